"""Wake `WaitCommit` callers when a commit finishes: Postgres LISTEN/NOTIFY, with polling as a fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import structlog

from tusk_common.db import keep_session_state
from tusk_versioning.adapters.catalog import COMMIT_NOTIFY

log = structlog.get_logger(__name__)


class CommitWaiters:
    """One listening connection per process; futures keyed by commit id."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: asyncpg.Connection | None = None
        self._futures: dict[str, set[asyncio.Future[None]]] = {}
        self.closed = False

    async def start(self) -> None:
        try:
            conn = await self._pool.acquire()
            keep_session_state(conn)
            await conn.add_listener(COMMIT_NOTIFY, self._on_notify)
            self._conn = conn
        except (OSError, asyncpg.PostgresError) as exc:  # waiting still works, by polling
            log.warning("waiters.listen_failed", error=str(exc))

    async def stop(self) -> None:
        """Stop listening and wake every waiter (they see `closed` and give up)."""
        self.closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.remove_listener(COMMIT_NOTIFY, self._on_notify)
            finally:
                await self._pool.release(conn)
        for futures in self._futures.values():
            for fut in futures:
                fut.cancel()
        self._futures.clear()

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for fut in self._futures.pop(payload, ()):
            if not fut.done():
                fut.set_result(None)

    @contextmanager
    def watch(self, commit_id: str) -> Iterator[asyncio.Future[None]]:
        """A future set when `commit_id` finishes or is deleted; register before reading its state."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._futures.setdefault(commit_id, set()).add(fut)
        try:
            yield fut
        finally:
            futures = self._futures.get(commit_id)
            if futures is not None:
                futures.discard(fut)
                if not futures:
                    self._futures.pop(commit_id, None)
            if not fut.done():
                fut.cancel()
