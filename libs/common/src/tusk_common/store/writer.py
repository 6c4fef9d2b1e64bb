"""Writing one file into the chunk store: chunk, hash and upload while the bytes are still arriving.

The work runs as a pipeline, so a 2-core host keeps both cores busy and the socket never waits for a
hash: `write` hands batches of incoming bytes to two lanes, each a task feeding one thread at a time,
in order:

    write ─┬─► md5 lane    MD5 of the whole file (the slowest hash, so it runs beside everything else)
           └─► chunk lane  FastCDC cut points and BLAKE3 ─► up to `write_ahead` uploads (dedup, put)

Each lane holds at most `LANE_BATCHES` batches, so `write` waits (and the request stops being read)
only when a lane is that far behind.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from tusk_common.errors import TooLarge
from tusk_common.store import manifest
from tusk_common.store.chunk import chunk_hash
from tusk_common.store.chunker import Chunker, immutable
from tusk_common.wire.versioning import FileContent

if TYPE_CHECKING:
    from tusk_common.store.chunkstore import ChunkStore

# Incoming bytes are handed to the lanes in batches of this size: one thread hop per small write would
# cost more than the work.
FEED_BATCH = 1024 * 1024
LANE_BATCHES = 4  # batches a lane may have queued before `write` waits for it

Batch = list[bytes | memoryview]
_END: Batch = []  # marks the end of the stream on a lane (compared by identity)


class _Lane:
    """One task running `step` on queued batches in order, each in a worker thread."""

    def __init__(self, name: str, step: Callable[[Batch, bool], Awaitable[None]]) -> None:
        self._queue: asyncio.Queue[Batch] = asyncio.Queue(LANE_BATCHES)
        self._step = step
        self.task = asyncio.create_task(self._run(), name=name)

    async def _run(self) -> None:
        while True:
            batch = await self._queue.get()
            # A lane that fell behind takes everything queued in one hop: fewer thread wake-ups.
            while batch is not _END and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is _END:
                    await self._step(batch, False)
                    batch = more
                    break
                batch = batch + more
            last = batch is _END
            await self._step([] if last else batch, last)
            if last:
                return

    async def put(self, batch: Batch) -> None:
        if self.task.done():
            self.task.result()  # the lane failed: raise its error here
            raise RuntimeError("the lane ended early")  # pragma: no cover (a lane only ends at _END)
        put = asyncio.ensure_future(self._queue.put(batch))
        done, _ = await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if put not in done:
            put.cancel()
            self.task.result()  # raises the lane's error
        await put


class FileWriter:
    """Streams one file into the store; `finish()` returns its `FileContent`.

    At most `ChunkStore.write_ahead` chunks are being hashed/compressed/uploaded at once and each lane
    holds a few batches, so memory stays at a few times `chunk_max` whatever the file size. A writer is
    used by one task at a time. Use it as an async context manager to abort on error.
    """

    def __init__(
        self,
        store: ChunkStore,
        *,
        max_bytes: int | None = None,
        prefix: Sequence[tuple[bytes, int]] = (),
    ) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._chunker = Chunker.from_settings(store.settings)
        self._md5 = hashlib.md5(usedforsecurity=False)
        # Filled in chunk order as uploads finish; `None` marks a chunk still in flight.
        self._entries: list[tuple[bytes, int] | None] = list(prefix)
        self._size = sum(length for _, length in prefix)
        self._blocks: Batch = []
        self._blocked = 0
        self._slots = asyncio.Semaphore(store.write_ahead)
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self._state = "open"
        self._md5_lane: _Lane | None = None
        self._chunk_lane: _Lane | None = None

    @property
    def size(self) -> int:
        """Bytes written so far (for an append, including the existing content)."""
        return self._size

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes to the file; raises `TooLarge` (and aborts) past `max_bytes`."""
        self._check_open()
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        n = view.nbytes
        if not n:
            return
        if self._max_bytes is not None and self._size + n > self._max_bytes:
            await self.abort()
            raise TooLarge(
                f"the file is larger than {self._max_bytes} bytes", field="body", limit=self._max_bytes
            )
        self._size += n
        # The lanes read the bytes later, in threads: keep nothing that aliases the caller's buffer.
        for start in range(0, n, FEED_BATCH):
            piece = immutable(view[start : start + FEED_BATCH])
            self._blocks.append(piece)
            self._blocked += len(piece)
            if self._blocked >= FEED_BATCH:
                await self._hand_over()

    async def hash_prefix(self, data: bytes | memoryview) -> None:
        """Account bytes that are already stored as chunks in the MD5 only (used by append)."""
        self._check_open()
        await self._guarded(self._lanes()[0].put([immutable(data)]))

    async def finish(self) -> FileContent:
        """Flush the last chunk, wait for every upload and store the manifest if it is big."""
        self._check_open()
        try:
            await self._hand_over()
            md5_lane, chunk_lane = self._lanes()
            await md5_lane.put(_END)
            await chunk_lane.put(_END)
            await asyncio.gather(md5_lane.task, chunk_lane.task)
            if self._tasks:
                done, _ = await asyncio.wait(list(self._tasks))
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
            self._raise_failure()
            entries = [e for e in self._entries if e is not None]
            assert len(entries) == len(self._entries), "a chunk upload ended without a result"
            packed, content = await asyncio.to_thread(self._content, entries)
            if not manifest.is_inline(packed):
                await self._store.put_manifest(content.id, packed)
        except BaseException:
            await self._cancel_all()
            self._state = "failed"
            raise
        self._state = "finished"
        return content

    async def abort(self) -> None:
        """Stop and write no manifest; chunks already stored stay as unreferenced garbage."""
        if self._state in ("finished", "aborted"):
            return
        self._state = "aborted"
        await self._cancel_all()
        self._blocks = []

    async def __aenter__(self) -> FileWriter:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None or self._state == "open":
            await self.abort()

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"file writer is {self._state}")

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _lanes(self) -> tuple[_Lane, _Lane]:
        if self._md5_lane is None or self._chunk_lane is None:
            self._md5_lane = _Lane("tusk-store-md5", self._md5_step)
            self._chunk_lane = _Lane("tusk-store-chunk", self._chunk_step)
        return self._md5_lane, self._chunk_lane

    async def _hand_over(self) -> None:
        if not self._blocks:
            return
        batch, self._blocks, self._blocked = self._blocks, [], 0
        md5_lane, chunk_lane = self._lanes()
        await self._guarded(md5_lane.put(batch))
        await self._guarded(chunk_lane.put(batch))

    async def _guarded(self, step: Awaitable[None]) -> None:
        try:
            await step
        except BaseException:
            # A lane failed, or we were cancelled: the MD5 and the chunker may be mid-update in a
            # thread, so this writer cannot go on.
            self._state = "failed"
            await self._cancel_all()
            raise

    async def _md5_step(self, batch: Batch, last: bool) -> None:
        if batch:
            await asyncio.to_thread(_update_all, self._md5, batch)

    async def _chunk_step(self, batch: Batch, last: bool) -> None:
        chunks = await asyncio.to_thread(self._cut, batch, last)
        for chunk, digest in chunks:
            await self._submit(chunk, digest)

    def _content(self, entries: list[tuple[bytes, int]]) -> tuple[bytes, FileContent]:
        packed = manifest.pack(entries)
        return packed, manifest.file_content(packed, size=self._size, md5=self._md5.hexdigest())

    def _cut(self, blocks: Batch, final: bool) -> list[tuple[memoryview, bytes]]:
        """The chunks these blocks complete, each with its hash (computed here, in the lane's thread:
        one hop per batch instead of one per chunk)."""
        chunks: list[memoryview] = []
        for block in blocks:
            chunks += self._chunker.feed(block)
        if final:
            chunks += self._chunker.finish()
        return [(c, chunk_hash(c)) for c in chunks]

    async def _submit(self, chunk: memoryview, digest: bytes) -> None:
        self._raise_failure()
        await self._slots.acquire()
        try:
            self._raise_failure()
        except BaseException:
            self._slots.release()
            raise
        index = len(self._entries)
        self._entries.append(None)
        task = asyncio.create_task(self._upload(index, chunk, digest), name=f"tusk-store-chunk-{index}")
        self._tasks.add(task)
        task.add_done_callback(self._upload_done)

    async def _upload(self, index: int, chunk: memoryview, digest: bytes) -> None:
        try:
            await self._store.store_chunk(chunk, digest=digest)
            self._entries[index] = (digest, len(chunk))
        finally:
            self._slots.release()

    def _upload_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None and self._failure is None:
            self._failure = exc

    async def _cancel_all(self) -> None:
        tasks = list(self._tasks)
        for lane in (self._md5_lane, self._chunk_lane):
            if lane is not None and lane.task is not asyncio.current_task():
                tasks.append(lane.task)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _update_all(md5: hashlib._Hash, blocks: Batch) -> None:
    for block in blocks:
        md5.update(block)
