"""Use cases on repos: create, inspect, list, delete."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from tusk_common import naming
from tusk_common.errors import AlreadyExists, Conflict
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
    """Remove the repo, its branches and commits. A repo that pipelines read, or a pipeline's output
    repo, is refused with `Conflict` naming them unless `force`."""
    async with deps.pool.acquire() as conn, conn.transaction():
        await require_repo(conn, name, field="name", lock=True)
        if not force:
            users = await catalog.repo_users(conn, name)
            writers = [p for p, role in users if role == "output"]
            readers = sorted({p for p, role in users if role == "input"} - set(writers))
            if writers:
                raise Conflict(
                    f"repo {name!r} is the output of pipeline {writers[0]!r}: delete the pipeline instead "
                    "(or force)", repo=name, pipeline=writers[0], readers=readers,
                )  # fmt: skip
            if readers:
                raise Conflict(
                    f"repo {name!r} is read by pipeline(s) {', '.join(readers)}: delete them first (or force)",
                    repo=name, readers=readers,
                )  # fmt: skip
        await catalog.delete_repo(conn, name)
        await enqueue(conn, RepoDeleted(repo=name), source=deps.source)


async def set_repo_users(deps: Deps, pipeline: str, inputs: Sequence[str], output: str | None) -> None:
    """Record the repos `pipeline` reads and writes, replacing what was recorded for it. Every repo must
    exist (they are locked, so a concurrent delete waits and then sees the pipeline)."""
    naming.check_name(pipeline, field="pipeline")
    wanted = sorted({(r, "input") for r in inputs} | ({(output, "output")} if output else set()))
    async with deps.pool.acquire() as conn, conn.transaction():
        for repo in sorted({r for r, _ in wanted}):
            await require_repo(conn, repo, field="inputs" if repo != output else "output", lock=True)
        await catalog.set_repo_users(conn, pipeline, wanted)
