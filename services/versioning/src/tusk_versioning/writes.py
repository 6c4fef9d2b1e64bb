"""The write path shared by PutFiles and CopyFile: stage into an open commit, or one atomic commit.

A bare branch name whose head is not open becomes one new commit, started, staged and finished in a
single transaction holding the branch row lock, so concurrent writers serialize and each gets its own
commit on top of the previous one. An open commit (named by id, or as a branch's open head) gets the
changes appended to its staging log after they were checked against its current view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import asyncpg

from tusk_common import naming
from tusk_common.errors import Conflict, NotFound, Unavailable
from tusk_common.events import BranchUpdated
from tusk_common.outbox import enqueue_many
from tusk_common.wire.versioning import FileContent, PutResult
from tusk_versioning.adapters import catalog
from tusk_versioning.adapters.nodestore import save_nodes
from tusk_versioning.commits import finished_event, lock_or_create_branch, new_commit, started_event
from tusk_versioning.deps import Deps
from tusk_versioning.domain.nodes import EMPTY_HASH
from tusk_versioning.domain.records import StagedChange
from tusk_versioning.domain.refs import parse_ref
from tusk_versioning.domain.staging import apply_changes, compact
from tusk_versioning.domain.working import WorkingTree
from tusk_versioning.resolve import resolve_commit


@dataclass(frozen=True)
class Write:
    changes: Sequence[StagedChange]
    contents: Sequence[FileContent] = ()
    nodes: dict[str, bytes] | None = None  # nodes the changes reference that may not be stored yet
    description: str = ""


class _Retry(Exception):
    """The open commit was finished or deleted between looking and locking: look again."""


async def write(deps: Deps, repo: str, ref: str, w: Write) -> PutResult:
    naming.check_name(repo, field="repo")
    parsed = parse_ref(ref)
    for _ in range(deps.settings.write_retries):
        async with deps.pool.acquire() as conn:
            if parsed.is_plain_branch:
                done = await _atomic(conn, deps, repo, parsed.base, w)
                if isinstance(done, PutResult):
                    return done
                commit_id, via_branch = done, True
            else:
                c = await resolve_commit(conn, repo, ref)
                if not c.is_open:
                    raise Conflict(
                        f"commit {c.id} is finished and cannot change: write to a branch or an open commit",
                        repo=repo, commit=c.id,
                    )  # fmt: skip
                commit_id, via_branch = c.id, False
            try:
                return await _stage(conn, deps, repo, commit_id, via_branch, w)
            except _Retry:
                continue
    raise Unavailable(f"the head of {repo}@{ref} kept changing; try again", repo=repo, ref=ref)


async def _save_extras(conn: asyncpg.Connection, deps: Deps, w: Write) -> None:
    if w.nodes:
        await save_nodes(conn, deps.views.cache, w.nodes)
    await catalog.save_contents(conn, w.contents)


async def _stage(
    conn: asyncpg.Connection, deps: Deps, repo: str, commit_id: str, via_branch: bool, w: Write
) -> PutResult:
    async with deps.views.locked(commit_id):
        async with conn.transaction():
            c = await catalog.get_commit(conn, commit_id, lock=True)
            if c is None or not c.is_open:
                if via_branch:
                    raise _Retry
                if c is None:
                    raise NotFound(f"commit {commit_id} not found", repo=repo, commit=commit_id)
                raise Conflict(f"commit {commit_id} is finished and cannot change", repo=repo, commit=commit_id)
            wt = await deps.views.working(conn, c)
            await apply_changes(wt, w.changes)
            rows = compact(w.changes)
            last = await catalog.stage(conn, commit_id, c.staged_seq + 1, rows) if rows else c.staged_seq
            await _save_extras(conn, deps, w)
        deps.views.note_staged(commit_id, last)
    return PutResult(commit=c.info(), atomic=False)


async def _atomic(conn: asyncpg.Connection, deps: Deps, repo: str, branch: str, w: Write) -> PutResult | str:
    """One finished commit holding `w`, or the id of the branch's open head to stage into instead."""
    async with conn.transaction():
        b, head = await lock_or_create_branch(conn, repo, branch)
        if head is not None and head.is_open:
            return head.id
        wt = await WorkingTree.open(deps.views.reader(conn), head.root if head else EMPTY_HASH)
        await apply_changes(wt, w.changes)
        root, node, batch = await wt.seal()
        await _save_extras(conn, deps, w)
        await save_nodes(conn, deps.views.cache, batch)
        row = new_commit(repo, branch, head, description=w.description, open_=False)
        c = await catalog.insert_head_commit(
            conn, replace(row, root=root, size_bytes=node.size, file_count=node.files)
        )
        moved = BranchUpdated(repo=repo, branch=branch, head=c.id, previous=b.head)
        await enqueue_many(conn, [started_event(c), finished_event(c), moved], source=deps.source)
    return PutResult(commit=c.info(), atomic=True)
