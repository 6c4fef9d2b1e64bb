"""Use cases on repos: create, inspect, list, delete."""

from __future__ import annotations

import asyncpg

from tusk_common import naming
from tusk_common.errors import AlreadyExists
from tusk_common.events import RepoCreated, RepoDeleted
from tusk_common.outbox import enqueue
from tusk_common.wire.versioning import RepoInfo
from tusk_versioning.adapters import catalog
from tusk_versioning.deps import Deps
from tusk_versioning.domain.records import Repo
from tusk_versioning.resolve import require_repo


def _render(repo: Repo, stats: dict[str, tuple[list[str], int, int]]) -> RepoInfo:
    branches, size, files = stats.get(repo.name, ([], 0, 0))
    return RepoInfo(
        name=repo.name,
        description=repo.description,
        created_at=repo.created_at,
        default_branch=repo.default_branch,
        branches=branches,
        size_bytes=size,
        file_count=files,
    )


async def _info(conn: asyncpg.Connection, repo: Repo) -> RepoInfo:
    return _render(repo, await catalog.repo_stats(conn, [repo.name]))


async def create_repo(deps: Deps, name: str, description: str, update: bool) -> RepoInfo:
    """A new repo with an empty default branch; `update` changes the description of an existing one."""
    naming.check_name(name, field="name")
    async with deps.pool.acquire() as conn, conn.transaction():
        repo = await catalog.insert_repo(conn, name, description)
        if repo is None:
            if not update:
                raise AlreadyExists(f"repo {name!r} already exists", repo=name)
            await catalog.set_repo_description(conn, name, description)
            repo = await require_repo(conn, name, field="name")
        else:
            await catalog.insert_branch(conn, name, repo.default_branch, None)
            await enqueue(conn, RepoCreated(repo=name, description=description), source=deps.source)
        return await _info(conn, repo)


async def inspect_repo(deps: Deps, name: str) -> RepoInfo:
    async with deps.pool.acquire() as conn:
        return await _info(conn, await require_repo(conn, name, field="name"))


async def list_repos(deps: Deps) -> list[RepoInfo]:
    async with deps.pool.acquire() as conn:
        repos = await catalog.list_repos(conn)
        stats = await catalog.repo_stats(conn, [r.name for r in repos])
    return [_render(r, stats) for r in repos]


async def delete_repo(deps: Deps, name: str, force: bool) -> None:
    """Remove the repo, its branches and commits. `force` is accepted for when pipelines depend on repos."""
    del force  # no dependants exist yet; the scheduler will add the check
    async with deps.pool.acquire() as conn, conn.transaction():
        await require_repo(conn, name, field="name", lock=True)
        await catalog.delete_repo(conn, name)
        await enqueue(conn, RepoDeleted(repo=name), source=deps.source)
