"""Writing one file into the chunk store: chunk, hash and upload while the bytes are still arriving."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from tusk_common.errors import TooLarge
from tusk_common.store import manifest
from tusk_common.store.chunker import Chunker, immutable
from tusk_common.wire.versioning import FileContent

if TYPE_CHECKING:
    from tusk_common.store.chunkstore import ChunkStore

# Incoming bytes are handed to the chunking thread in batches of this size: one thread hop per small
# write would cost more than the work.
FEED_BATCH = 1024 * 1024


class FileWriter:
    """Streams one file into the store; `finish()` returns its `FileContent`.

    At most `ChunkStore.write_ahead` chunks are being hashed/compressed/uploaded at once; `write` waits
    when they are all busy, so memory stays at a few times `chunk_max` whatever the file size. A writer
    is used by one task at a time. Use it as an async context manager to abort on error.
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
        self._blocks: list[bytes | memoryview] = []
        self._blocked = 0
        self._slots = asyncio.Semaphore(store.write_ahead)
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self._state = "open"

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
        for start in range(0, n, FEED_BATCH):
            piece = view[start : start + FEED_BATCH]
            self._blocks.append(piece)
            self._blocked += piece.nbytes
            if self._blocked >= FEED_BATCH:
                await self._feed(final=False)
        # What stays buffered must not alias the caller's buffer, which it may reuse after we return.
        # Only the last piece can be from this call: every earlier one filled a batch and was fed.
        if self._blocks:
            self._blocks[-1] = immutable(self._blocks[-1])

    async def hash_prefix(self, data: bytes) -> None:
        """Account bytes that are already stored as chunks in the MD5 only (used by append)."""
        self._check_open()
        await asyncio.to_thread(self._md5.update, data)

    async def finish(self) -> FileContent:
        """Flush the last chunk, wait for every upload and store the manifest if it is big."""
        self._check_open()
        try:
            await self._feed(final=True)
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
            await self._cancel_uploads()
            self._state = "failed"
            raise
        self._state = "finished"
        return content

    async def abort(self) -> None:
        """Stop and write no manifest; chunks already stored stay as unreferenced garbage."""
        if self._state in ("finished", "aborted"):
            return
        self._state = "aborted"
        await self._cancel_uploads()
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

    async def _feed(self, *, final: bool) -> None:
        blocks, self._blocks, self._blocked = self._blocks, [], 0
        try:
            chunks = await asyncio.to_thread(self._cut, blocks, final)
            for chunk in chunks:
                await self._submit(chunk)
        except BaseException:
            # The chunker and MD5 may be mid-update in the thread: this writer cannot go on.
            self._state = "failed"
            await self._cancel_uploads()
            raise

    def _content(self, entries: list[tuple[bytes, int]]) -> tuple[bytes, FileContent]:
        packed = manifest.pack(entries)
        return packed, manifest.file_content(packed, size=self._size, md5=self._md5.hexdigest())

    def _cut(self, blocks: list[bytes | memoryview], final: bool) -> list[memoryview]:
        chunks: list[memoryview] = []
        for block in blocks:
            self._md5.update(block)
            chunks += self._chunker.feed(block)
        if final:
            chunks += self._chunker.finish()
        return chunks

    async def _submit(self, chunk: memoryview) -> None:
        self._raise_failure()
        await self._slots.acquire()
        try:
            self._raise_failure()
        except BaseException:
            self._slots.release()
            raise
        index = len(self._entries)
        self._entries.append(None)
        task = asyncio.create_task(self._upload(index, chunk), name=f"tusk-store-chunk-{index}")
        self._tasks.add(task)
        task.add_done_callback(self._upload_done)

    async def _upload(self, index: int, chunk: memoryview) -> None:
        try:
            digest = await self._store.store_chunk(chunk)
            self._entries[index] = (digest, len(chunk))
        finally:
            self._slots.release()

    def _upload_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None and self._failure is None:
            self._failure = exc

    async def _cancel_uploads(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
