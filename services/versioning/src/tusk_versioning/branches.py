"""Use cases on branches: movable pointers to commits."""

from __future__ import annotations

from tusk_common import naming
from tusk_common.errors import Conflict, NotFound
from tusk_common.events import BranchUpdated
from tusk_common.outbox import enqueue
from tusk_common.wire.versioning import BranchInfo
from tusk_versioning.adapters import catalog
from tusk_versioning.deps import Deps
from tusk_versioning.resolve import require_branch, require_repo, resolve_commit


async def create_branch(deps: Deps, repo: str, name: str, head: str | None) -> BranchInfo:
    """Create a branch at `head` (a ref), or move an existing one there (Pachyderm `create branch --head`)."""
    naming.check_name(name, field="name")
    async with deps.pool.acquire() as conn, conn.transaction():
        await require_repo(conn, repo)
        target = (await resolve_commit(conn, repo, head, field="head")).id if head is not None else None
        if target is not None and not await catalog.share_lock_commit(conn, target):
            raise NotFound(f"commit {target} was just deleted", repo=repo, commit=target)
        branch = await catalog.get_branch(conn, repo, name, lock=True)
        if branch is None:
            branch = await catalog.insert_branch(conn, repo, name, target)
            if target is not None:
                await enqueue(
                    conn, BranchUpdated(repo=repo, branch=name, head=target, previous=None), source=deps.source
                )
            return branch.info()
        if head is None or branch.head == target:
            return branch.info()
        if branch.head is not None:
            current = await catalog.get_commit(conn, branch.head)
            if current is not None and current.is_open:
                raise Conflict(
                    f"branch {name!r} has the open commit {current.id}: finish it before moving the branch",
                    repo=repo,
                    branch=name,
                    commit=current.id,
                )
        await catalog.set_head(conn, repo, name, target)
        await enqueue(
            conn, BranchUpdated(repo=repo, branch=name, head=target, previous=branch.head), source=deps.source
        )
        moved = await catalog.get_branch(conn, repo, name)
        assert moved is not None
        return moved.info()


async def inspect_branch(deps: Deps, repo: str, name: str) -> BranchInfo:
    async with deps.pool.acquire() as conn:
        await require_repo(conn, repo)
        return (await require_branch(conn, repo, name)).info()


async def list_branches(deps: Deps, repo: str) -> list[BranchInfo]:
    async with deps.pool.acquire() as conn:
        await require_repo(conn, repo)
        return [b.info() for b in await catalog.list_branches(conn, repo)]


async def delete_branch(deps: Deps, repo: str, name: str, force: bool) -> None:
    """Delete the pointer; commits stay. A branch whose head is open needs `force` (the commit stays open)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        await require_repo(conn, repo)
        branch = await require_branch(conn, repo, name, lock=True)
        if branch.head is not None and not force:
            head = await catalog.get_commit(conn, branch.head)
            if head is not None and head.is_open:
                raise Conflict(
                    f"branch {name!r} has the open commit {head.id}: finish it first, or delete with force",
                    repo=repo,
                    branch=name,
                    commit=head.id,
                )
        await catalog.delete_branch(conn, repo, name)
        await enqueue(
            conn, BranchUpdated(repo=repo, branch=name, head=None, previous=branch.head), source=deps.source
        )
