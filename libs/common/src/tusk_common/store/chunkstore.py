"""The chunk store: files as content-defined, content-addressed, verified chunks on an `ObjectStore`."""

from __future__ import annotations

import asyncio
import bisect
import hashlib
from collections import OrderedDict, deque
from collections.abc import AsyncIterable, AsyncIterator

from prometheus_client import CollectorRegistry

from tusk_common.errors import Corrupted, Invalid, NotFound, TooLarge
from tusk_common.settings import StoreSettings
from tusk_common.store import chunk, manifest
from tusk_common.store.backend import ObjectStore
from tusk_common.store.manifest import ChunkRef
from tusk_common.store.metrics import StoreMetrics
from tusk_common.store.writer import FileWriter
from tusk_common.wire.versioning import FileContent

__all__ = ["ChunkRef", "ChunkStore", "FileWriter"]

READ_AHEAD = 4  # chunks fetched and verified concurrently ahead of the reader
WRITE_AHEAD_MAX = 8  # chunks in flight per writer: memory per writer is at worst about 2 * this * chunk_max
KNOWN_CHUNKS = 65_536  # hashes remembered as stored (~130 bytes each), to skip exists() calls
CACHED_MANIFEST_REFS = 100_000  # refs of out-of-line manifests kept in memory (~200 bytes each)


class ChunkStore:
    """Writes, appends and reads files as chunks; see docs/storage.md."""

    def __init__(
        self, backend: ObjectStore, settings: StoreSettings, metrics: StoreMetrics | None = None
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.write_ahead = min(settings.io_workers, WRITE_AHEAD_MAX)
        self.read_ahead = READ_AHEAD
        self._zstd_level = settings.zstd_level if settings.compression == "zstd" else None
        metrics = metrics or StoreMetrics(CollectorRegistry())
        label = getattr(backend, "name", settings.backend)
        self._bytes_written = metrics.bytes_written.labels(backend=label)
        self._bytes_read = metrics.bytes_read.labels(backend=label)
        self._chunks_written = metrics.chunks_written.labels(backend=label)
        self._chunks_deduplicated = metrics.chunks_deduplicated.labels(backend=label)
        self._bytes_deduplicated = metrics.bytes_deduplicated.labels(backend=label)
        self._corrupt_chunks = metrics.corrupt_chunks.labels(backend=label)
        # Hashes this process stored or saw stored, most recent last. Chunks are immutable, so only a GC
        # that deletes chunks must call `forget_known_chunks()`.
        self._known: OrderedDict[bytes, None] = OrderedDict()
        # Chunks being stored right now, so two writers holding the same chunk upload it once.
        self._storing: dict[bytes, asyncio.Future[None]] = {}
        self._manifests: OrderedDict[str, list[ChunkRef]] = OrderedDict()
        self._manifest_refs = 0

    # ------------------------------------------------------------------ writing

    def writer(self, *, max_bytes: int | None = None) -> FileWriter:
        """A writer for one new file; `max_bytes` bounds its size (`TooLarge` past it)."""
        return FileWriter(self, max_bytes=max_bytes)

    async def write_bytes(self, data: bytes) -> FileContent:
        """Store a file held in memory."""
        async with self.writer() as w:
            await w.write(data)
            return await w.finish()

    async def write_small(self, data: bytes | memoryview) -> FileContent:
        """Store a file smaller than the minimum chunk size: one chunk, hashed and framed in one thread
        hop, written with one `put` (no `exists` call: a small idempotent write costs about the same).
        """
        if len(data) >= self.settings.chunk_min:
            return await self.write_bytes(bytes(data))
        digest, md5, stored = await asyncio.to_thread(self._prepare_small, data)
        content = manifest.file_content(manifest.pack([(digest, len(data))]) if data else b"",
                                        size=len(data), md5=md5)
        if not data:
            return content
        if digest in self._known:
            self._known.move_to_end(digest)
            self._count_dedup(len(data))
            return content
        await self.backend.put(chunk.chunk_key(digest.hex()), stored)
        self._chunks_written.inc()
        self._bytes_written.inc(len(stored))
        self._remember(digest)
        return content

    def _prepare_small(self, data: bytes | memoryview) -> tuple[bytes, str, bytes]:
        digest = chunk.chunk_hash(data)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        stored = b"" if digest in self._known else chunk.encode(data, zstd_level=self._zstd_level)
        return digest, md5, stored

    async def write_stream(
        self, source: AsyncIterable[bytes | memoryview], *, max_bytes: int | None = None
    ) -> FileContent:
        """Store a file from an async iterator of byte blocks."""
        async with self.writer(max_bytes=max_bytes) as w:
            async for block in source:
                await w.write(block)
            return await w.finish()

    async def append(
        self,
        existing: FileContent,
        source: AsyncIterable[bytes | memoryview],
        *,
        max_bytes: int | None = None,
    ) -> FileContent:
        """`existing` followed by `source`, chunked exactly as if the whole file were written anew.

        The chunks of `existing` before its last one are kept as they are (their cut points cannot
        change); the last one is re-chunked with the new bytes. The MD5 cannot be resumed from a
        digest, so the whole existing content is read (and verified) once: appending costs O(size).
        """
        if max_bytes is not None and existing.size > max_bytes:
            raise TooLarge(f"the file is larger than {max_bytes} bytes", field="body", limit=max_bytes)
        refs = await self.manifest(existing)
        if not refs:
            return await self.write_stream(source, max_bytes=max_bytes)
        last = refs[-1]
        prefix = [(r.digest, r.length) for r in refs[:-1]]
        async with FileWriter(self, max_bytes=max_bytes, prefix=prefix) as w:
            async for block in self.read(existing, 0, last.offset):
                await w.hash_prefix(block)
            async for block in self.read(existing, last.offset):
                await w.write(block)
            async for extra in source:
                await w.write(extra)
            return await w.finish()

    async def store_chunk(self, data: bytes | memoryview) -> bytes:
        """Store one chunk unless it already is; return its digest."""
        digest = await asyncio.to_thread(chunk.chunk_hash, data)
        while True:
            if digest in self._known:
                self._known.move_to_end(digest)
                self._count_dedup(len(data))
                return digest
            storing = self._storing.get(digest)
            if storing is None:
                break
            # `wait` neither raises the other upload's error nor cancels it if we are cancelled.
            await asyncio.wait([storing])
        done = asyncio.get_running_loop().create_future()
        self._storing[digest] = done
        try:
            key = chunk.chunk_key(digest.hex())
            if await self.backend.exists(key):
                self._count_dedup(len(data))
            else:
                stored = await asyncio.to_thread(chunk.encode, data, zstd_level=self._zstd_level)
                await self.backend.put(key, stored)
                self._chunks_written.inc()
                self._bytes_written.inc(len(stored))
            self._remember(digest)
        finally:
            del self._storing[digest]
            done.set_result(None)  # only a signal: waiters look at `_known` again
        return digest

    async def put_manifest(self, content_id: str, packed: bytes) -> None:
        """Store an out-of-line manifest (idempotent)."""
        key = chunk.manifest_key(content_id)
        if not await self.backend.exists(key):
            await self.backend.put(key, packed)

    def forget_known_chunks(self) -> None:
        """Drop the memory of which chunks exist (a GC that deleted chunks calls this)."""
        self._known.clear()

    def _remember(self, digest: bytes) -> None:
        self._known[digest] = None
        self._known.move_to_end(digest)
        while len(self._known) > KNOWN_CHUNKS:
            self._known.popitem(last=False)

    def _count_dedup(self, length: int) -> None:
        self._chunks_deduplicated.inc()
        self._bytes_deduplicated.inc(length)

    # ------------------------------------------------------------------ reading

    async def manifest(self, content: FileContent) -> list[ChunkRef]:
        """The chunks of a file in order, checked against its id and size."""
        packed = manifest.inline(content)
        if packed is not None:
            return manifest.verified(packed, content)
        cached = self._manifests.get(content.id)
        if cached is not None:
            self._manifests.move_to_end(content.id)
            return list(cached)
        try:
            packed = await self.backend.get(chunk.manifest_key(content.id))
        except NotFound as e:
            raise Corrupted("manifest is missing", content_id=content.id) from e
        refs = await asyncio.to_thread(manifest.verified, packed, content)
        self._cache_manifest(content.id, refs)
        return list(refs)

    def _cache_manifest(self, content_id: str, refs: list[ChunkRef]) -> None:
        if len(refs) > CACHED_MANIFEST_REFS // 4:
            return  # one huge file must not flush everything else
        self._manifests[content_id] = refs
        self._manifest_refs += len(refs)
        while self._manifest_refs > CACHED_MANIFEST_REFS:
            _, old = self._manifests.popitem(last=False)
            self._manifest_refs -= len(old)

    async def read(
        self, content: FileContent, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes of `content[offset:offset+length]` (to the end when `length` is None), in blocks.

        Only the chunks covering the range are fetched, `read_ahead` at a time, each verified against
        its hash; a chunk that is missing or wrong raises `Corrupted` (details: `content_id`, `chunk`).
        A range running past the end is cut at the end; an offset past the end is `Invalid`.
        """
        if offset < 0 or offset > content.size:
            raise Invalid(f"offset {offset} is outside the file (size {content.size})", field="offset")
        if length is not None and length < 0:
            raise Invalid("length must not be negative", field="length")
        end = content.size if length is None else min(content.size, offset + length)
        if offset >= end:
            return
        refs = await self.manifest(content)
        first = bisect.bisect_right(refs, offset, key=lambda r: r.offset) - 1
        last = bisect.bisect_left(refs, end, key=lambda r: r.offset)  # exclusive
        wanted = iter(refs[first:last])
        window: deque[asyncio.Task[bytes]] = deque()
        try:
            for ref in refs[first:last]:
                while len(window) < self.read_ahead and (nxt := next(wanted, None)) is not None:
                    window.append(asyncio.create_task(self._fetch(content.id, nxt)))
                data = await window.popleft()
                lo, hi = max(offset - ref.offset, 0), min(end - ref.offset, ref.length)
                yield data if lo == 0 and hi == ref.length else data[lo:hi]
        finally:
            for task in window:
                task.cancel()
            if window:
                await asyncio.gather(*window, return_exceptions=True)

    async def _fetch(self, content_id: str, ref: ChunkRef) -> bytes:
        try:
            stored = await self.backend.get(chunk.chunk_key(ref.hash))
        except NotFound as e:
            self._corrupt_chunks.inc()
            raise Corrupted("chunk is missing", content_id=content_id, chunk=ref.hash) from e
        self._bytes_read.inc(len(stored))
        try:
            return await asyncio.to_thread(
                chunk.decode, stored, expected=ref.digest, length=ref.length, content_id=content_id
            )
        except Corrupted:
            self._corrupt_chunks.inc()
            raise
