"""Readable snapshots of commits; open commits are their parent's tree plus their staged changes.

A finished commit is its root hash. An open commit is materialized by replaying its staging log onto
the tree it started from; the working tree is kept in memory (bounded LRU) and brought up to date by
replaying only rows with a higher `seq`, so a replica that did not stage them still reads them.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from tusk_common.errors import NotFound
from tusk_versioning.adapters import catalog
from tusk_versioning.adapters.nodestore import NodeCache, PgNodes
from tusk_versioning.domain.nodes import NodeBatch
from tusk_versioning.domain.records import Commit
from tusk_versioning.domain.staging import apply_changes
from tusk_versioning.domain.tree import MemoryNodes, NodeReader
from tusk_versioning.domain.working import WorkingTree


@dataclass(frozen=True)
class Snapshot:
    """The tree of a commit as a reader sees it now."""

    commit: Commit
    root: str
    reader: NodeReader
    unsaved: NodeBatch | None = None  # nodes of an open commit's view that only exist in memory


class _View:
    def __init__(self, wt: WorkingTree) -> None:
        self.wt = wt
        self.seq = 0
        self.sealed: tuple[str, NodeBatch] | None = None
        self.lock = asyncio.Lock()


class Views:
    """Snapshots of commits, and the working trees of open commits."""

    def __init__(self, cache: NodeCache, capacity: int) -> None:
        self.cache = cache
        self.capacity = capacity
        self._views: OrderedDict[str, _View] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def reader(self, conn: asyncpg.Connection) -> PgNodes:
        return PgNodes(self.cache, conn)

    @asynccontextmanager
    async def locked(self, commit_id: str) -> AsyncIterator[None]:
        """Serialize, in this process, everything that reads or moves an open commit's working tree.

        Taken before any row lock, so it never waits while holding one. On an error the view is
        dropped: it may hold changes whose transaction did not commit.
        """
        lock = self._locks.get(commit_id)
        if lock is None:
            lock = self._locks[commit_id] = asyncio.Lock()
        async with lock:
            try:
                yield
            except BaseException:
                self.evict(commit_id)
                raise

    def evict(self, commit_id: str) -> None:
        self._views.pop(commit_id, None)

    async def working(self, conn: asyncpg.Connection, commit: Commit) -> WorkingTree:
        """The up-to-date working tree of an open commit (call under `locked`)."""
        view = self._views.get(commit.id)
        if view is None:
            view = _View(await WorkingTree.open(self.reader(conn), commit.root))
            self._views[commit.id] = view
            while len(self._views) > self.capacity:
                self._views.popitem(last=False)
        self._views.move_to_end(commit.id)
        view.wt.reader = self.reader(conn)
        changes = await catalog.staged_since(conn, commit.id, view.seq)
        if changes:  # a failure half way is fine: `locked` drops the view, the next look replays it all
            view.sealed = None
            await apply_changes(view.wt, changes, strict=False)
            view.seq = changes[-1].seq
        return view.wt

    def note_staged(self, commit_id: str, seq: int) -> None:
        """The caller applied and committed changes up to `seq` on the cached working tree."""
        view = self._views.get(commit_id)
        if view is not None:
            view.seq = seq
            view.sealed = None

    async def snapshot(self, conn: asyncpg.Connection, commit: Commit) -> Snapshot:
        if not commit.is_open:
            return Snapshot(commit, commit.root, self.reader(conn))
        async with self.locked(commit.id):
            # `commit` may have been read before a finish (here or on another replica) that dropped its
            # staging log: read the row and the log again in one snapshot, or the parent's tree would
            # pass for the commit's.
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                current = await catalog.get_commit(conn, commit.id)
                if current is None:
                    raise NotFound(f"commit {commit.id} was deleted", repo=commit.repo, commit=commit.id)
                if not current.is_open:
                    return Snapshot(current, current.root, self.reader(conn))
                wt = await self.working(conn, current)
            view = self._views[commit.id]
            if view.sealed is None:
                root, _node, batch = await wt.seal()
                view.sealed = (root, batch)
            root, batch = view.sealed
        return Snapshot(current, root, MemoryNodes(batch, base=self.reader(conn)), batch)
