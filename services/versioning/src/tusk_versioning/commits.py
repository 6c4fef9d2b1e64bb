"""Use cases on commits: start, finish, inspect, list, wait, squash, delete."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Literal

import asyncpg

from tusk_common import naming
from tusk_common.errors import Conflict, Invalid, NotFound, Unavailable
from tusk_common.events import BranchUpdated, CommitFinished, CommitStarted
from tusk_common.outbox import enqueue, enqueue_many
from tusk_common.wire.versioning import CommitInfo, CommitList
from tusk_versioning.adapters import catalog
from tusk_versioning.adapters.nodestore import save_nodes
from tusk_versioning.deps import Deps
from tusk_versioning.domain.cursors import decode_cursor, encode_cursor
from tusk_versioning.domain.nodes import EMPTY_HASH
from tusk_versioning.domain.records import Branch, Commit
from tusk_versioning.resolve import require_branch, require_repo, resolve_commit


def new_commit(repo: str, branch: str, parent: Commit | None, *, description: str = "", open_: bool = True) -> Commit:
    """The row of a user commit (its own commit set) starting from `parent`'s tree."""
    cid = uuid.uuid4().hex
    return Commit(
        id=cid, repo=repo, branch=branch, parent=parent.id if parent else None, origin="user", commit_set=cid,
        description=description, state="open" if open_ else "finished", started_at=datetime.min,
        finished_at=None, error=None, root=parent.root if parent else EMPTY_HASH,
        size_bytes=parent.size_bytes if parent else 0, file_count=parent.file_count if parent else 0,
        staged_seq=0,
    )  # fmt: skip


def started_event(c: Commit) -> CommitStarted:
    return CommitStarted(
        repo=c.repo, branch=c.branch, commit=c.id, commit_set=c.commit_set, parent=c.parent, origin=c.origin
    )


def finished_event(c: Commit) -> CommitFinished:
    return CommitFinished(
        repo=c.repo, branch=c.branch, commit=c.id, commit_set=c.commit_set, parent=c.parent, origin=c.origin,
        error=c.error, size_bytes=c.size_bytes, file_count=c.file_count,
    )  # fmt: skip


async def lock_or_create_branch(conn: asyncpg.Connection, repo: str, name: str) -> tuple[Branch, Commit | None]:
    """The branch row, locked, and its head; a missing branch is created empty (as Pachyderm does
    on a first write). Call inside a transaction."""
    locked = await catalog.lock_branch_head(conn, repo, name)
    if locked is not None:
        return locked
    naming.check_name(name, field="branch")
    await require_repo(conn, repo)
    await conn.execute("INSERT INTO branches (repo, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", repo, name)
    locked = await catalog.lock_branch_head(conn, repo, name)
    assert locked is not None
    return locked


async def start_commit(
    deps: Deps, repo: str, branch: str, parent: str | None, description: str,
    *, commit_set: str | None = None, origin: Literal["user", "auto"] = "user",
) -> CommitInfo:  # fmt: skip
    """Open a commit on `branch` (its head moves to it). `commit_set` joins an existing commit set (a
    pipeline's output commit joins the set of the input commit that caused it); None starts one."""
    naming.check_name(repo, field="repo")
    if commit_set is not None and not naming.is_commit_id(commit_set):
        raise Invalid(f"commit_set {commit_set!r} is not a commit set id (32 hex)", field="commit_set")
    async with deps.priority.write(), deps.pool.acquire() as conn, conn.transaction():
        b, head = await lock_or_create_branch(conn, repo, branch)
        if head is not None and head.is_open:
            raise Conflict(
                f"branch {branch!r} already has the open commit {head.id}: finish it first",
                repo=repo, branch=branch, commit=head.id,
            )  # fmt: skip
        base = head
        if parent is not None:
            base = await resolve_commit(conn, repo, parent, field="parent")
            if not await catalog.share_lock_commit(conn, base.id):
                # a concurrent delete or squash removed it: a child must not point at a missing parent
                raise NotFound(f"parent commit {base.id} was just deleted", repo=repo, commit=base.id)
        if base is not None and base.is_open:
            raise Conflict(f"parent commit {base.id} is still open: finish it first", commit=base.id)
        row = new_commit(repo, branch, base, description=description)
        row = replace(row, commit_set=commit_set or row.commit_set, origin=origin)
        c = await catalog.insert_head_commit(conn, row)
        moved = BranchUpdated(repo=repo, branch=branch, head=c.id, previous=b.head)
        await enqueue_many(conn, [started_event(c), moved], source=deps.source)
        return c.info()


async def finish_commit(deps: Deps, repo: str, ref: str, description: str | None, error: str | None) -> CommitInfo:
    """Seal the open commit's tree (parent tree + staged changes) and make it immutable."""
    async with deps.priority.write(), deps.pool.acquire() as conn:
        c = await resolve_commit(conn, repo, ref)
        if not c.is_open:
            raise Conflict(f"commit {c.id} is already finished", repo=repo, commit=c.id)
        async with deps.views.locked(c.id):
            return await _finish(conn, deps, repo, c, description, error)


async def _finish(
    conn: asyncpg.Connection, deps: Deps, repo: str, c: Commit, description: str | None, error: str | None
) -> CommitInfo:
    try:
        async with conn.transaction():
            current = await catalog.get_commit(conn, c.id, lock=True)
            if current is None:
                raise NotFound(f"commit {c.id} was deleted", repo=repo, commit=c.id)
            if not current.is_open:
                raise Conflict(f"commit {c.id} is already finished", repo=repo, commit=c.id)
            wt = await deps.views.working(conn, current)
            root, node, batch = await wt.seal()
            await save_nodes(conn, deps.views.cache, batch)
            done = await catalog.finish_commit(
                conn, c.id, root=root, size=node.size, count=node.files, description=description, error=error
            )
            await enqueue_many(conn, [finished_event(done)], source=deps.source)
    finally:
        deps.views.evict(c.id)
    return done.info()


async def inspect_commit(deps: Deps, repo: str, ref: str) -> CommitInfo:
    async with deps.pool.acquire() as conn:
        return (await resolve_commit(conn, repo, ref)).info()


async def list_commits(deps: Deps, repo: str, branch: str | None, limit: int, cursor: str | None) -> CommitList:
    """Newest first: a branch's ancestry, or every commit of the repo; cursor = (started_at, id) of the last."""
    after = decode_cursor(cursor, "commits")
    async with deps.pool.acquire() as conn:
        await require_repo(conn, repo)
        if branch is not None:
            b = await require_branch(conn, repo, branch)
            start = b.head
            if after is not None:
                last = await catalog.get_commit(conn, str(after[1]))
                if last is None or last.repo != repo:
                    raise Invalid("cursor names a commit that no longer exists", field="cursor")
                start = last.parent
            rows = await catalog.history(conn, start, limit + 1) if start else []
        else:
            before = None
            if after is not None:
                try:
                    before = (datetime.fromisoformat(after[0]), str(after[1]))
                except (TypeError, ValueError, IndexError):
                    raise Invalid("cursor is not one this service returned", field="cursor") from None
            rows = await catalog.list_commits(conn, repo, before, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor("commits", [page[-1].started_at.isoformat(), page[-1].id]) if more else None
    return CommitList(commits=[c.info() for c in page], next_cursor=next_cursor)


async def wait_commit(deps: Deps, repo: str, ref: str, timeout: float) -> CommitInfo:
    """Return once the commit `ref` names now is finished; `Unavailable` after `timeout` seconds."""
    async with deps.pool.acquire() as conn:
        c = await resolve_commit(conn, repo, ref)
    deadline = time.monotonic() + timeout
    while True:
        if deps.waiters.closed:
            raise Unavailable("the versioning service is shutting down; wait again", repo=repo, commit=c.id)
        with deps.waiters.watch(c.id) as woken:
            current = await deps.pool.fetchrow("SELECT state FROM commits WHERE id = $1", c.id)
            if current is None:
                raise NotFound(f"commit {c.id} was deleted while waiting", repo=repo, commit=c.id)
            if current["state"] == "finished":
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unavailable(f"commit {c.id} did not finish within {timeout:g}s", repo=repo, commit=c.id)
            await asyncio.wait({woken}, timeout=min(deps.settings.wait_poll_interval, remaining))
    async with deps.pool.acquire() as conn:
        done = await catalog.get_commit(conn, c.id)
    if done is None:
        raise NotFound(f"commit {c.id} was deleted while waiting", repo=repo, commit=c.id)
    return done.info()


async def _mutable(conn: asyncpg.Connection, repo: str, ref: str, verb: str) -> Commit:
    c = await resolve_commit(conn, repo, ref)
    others = await catalog.count_in_set(conn, c.commit_set) - 1
    if others > 0:
        raise Conflict(
            f"cannot {verb} commit {c.id}: {others} other commit(s) of its commit set depend on it",
            repo=repo, commit=c.id,
        )  # fmt: skip
    return c


async def squash_commit(deps: Deps, repo: str, ref: str) -> None:
    """Fold a finished commit into its children: they are full snapshots, so no data moves."""
    async with deps.pool.acquire() as conn, conn.transaction():
        c = await _mutable(conn, repo, ref, "squash")
        if c.is_open:
            raise Conflict(f"commit {c.id} is open: finish or delete it instead", repo=repo, commit=c.id)
        heads = await catalog.branches_at(conn, c.id, lock=True)
        if heads:
            names = ", ".join(b.name for b in heads)
            raise Conflict(
                f"commit {c.id} is the head of branch {names}: squashing it would lose that branch's data",
                repo=repo, commit=c.id,
            )  # fmt: skip
        locked = await catalog.get_commit(conn, c.id, lock=True)
        if locked is None:
            raise NotFound(f"commit {c.id} not found", repo=repo, commit=c.id)
        if not await catalog.children(conn, c.id):
            raise Conflict(
                f"commit {c.id} has no children to squash into: delete it instead", repo=repo, commit=c.id
            )
        await catalog.reparent(conn, c.id, c.parent)
        await catalog.delete_commit(conn, c.id)


async def delete_commit(deps: Deps, repo: str, ref: str) -> None:
    """Delete a commit with no children; branches pointing at it move back to its parent."""
    async with deps.pool.acquire() as conn:
        c = await resolve_commit(conn, repo, ref)
    async with deps.views.locked(c.id), deps.pool.acquire() as conn:
        try:
            async with conn.transaction():
                c = await _mutable(conn, repo, c.id, "delete")
                heads = await catalog.branches_at(conn, c.id, lock=True)
                if await catalog.get_commit(conn, c.id, lock=True) is None:
                    raise NotFound(f"commit {c.id} not found", repo=repo, commit=c.id)
                kids = await catalog.children(conn, c.id)
                if kids:
                    raise Conflict(
                        f"commit {c.id} has {len(kids)} child commit(s): deleting it would cut their history;"
                        " squash it instead",
                        repo=repo, commit=c.id,
                    )  # fmt: skip
                for b in heads:
                    await catalog.set_head(conn, b.repo, b.name, c.parent)
                    await enqueue(
                        conn,
                        BranchUpdated(repo=b.repo, branch=b.name, head=c.parent, previous=c.id),
                        source=deps.source,
                    )
                await catalog.delete_commit(conn, c.id)
        finally:
            deps.views.evict(c.id)
