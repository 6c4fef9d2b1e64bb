"""Small writes before bulk reads: long listings and diffs step aside while a commit starts or finishes.

A listing or a diff of thousands of entries (the lineage service diffs every commit) pauses while a
commit is started or finished or a few files are staged, so a one-file commit stays fast whatever a
background reader is asking for meanwhile.

Bulk reads already give the event loop back every few hundred entries; at those points they now also
wait while any write is in flight, for at most `MAX_PAUSE` each time, so a steady stream of writes
slows them down but never stops them. At most `BULK_AT_ONCE` bulk reads run at once (a reader that asks
for many pages at once queues), so writes always find a free database connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

MAX_PAUSE = 0.05  # seconds a bulk read waits at one yield point before going on regardless
BULK_AT_ONCE = 4  # bulk reads served at once: they hold pool connections while paused, the rest stay free


class WritesFirst:
    """Counts the writes in flight; bulk reads `pause()` while there are any (one per event loop)."""

    def __init__(self, bulk_at_once: int = BULK_AT_ONCE) -> None:
        self._writing = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._bulk = asyncio.Semaphore(bulk_at_once)

    @property
    def writing(self) -> int:
        return self._writing

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        """Mark a latency-sensitive request (a commit start or finish, a put) as running."""
        self._writing += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._writing -= 1
            if not self._writing:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def bulk(self) -> AsyncIterator[None]:
        """Hold one of the few slots of bulk reads (taken before a pool connection: a paused read keeps
        its connection, and a burst of them must not leave a write waiting for one)."""
        async with self._bulk:
            yield

    async def pause(self) -> None:
        """A bulk read's yield point: give the loop back, then wait while writes run (bounded)."""
        await asyncio.sleep(0)
        if not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), MAX_PAUSE)
