"""The chunk store: files as content-defined, content-addressed, verified chunks on an `ObjectStore`."""

from __future__ import annotations

import asyncio
import bisect
import hashlib
from collections import OrderedDict, deque
from collections.abc import AsyncIterable, AsyncIterator, Sequence

from prometheus_client import CollectorRegistry

from tusk_common.errors import Conflict, Corrupted, Invalid, NotFound, TooLarge
from tusk_common.settings import StoreSettings
from tusk_common.store import chunk, manifest, pack
from tusk_common.store.backend import Data, ObjectStore, data_length
from tusk_common.store.manifest import ChunkRef
from tusk_common.store.metrics import StoreMetrics
from tusk_common.store.writer import FileWriter
from tusk_common.wire.versioning import FileContent

__all__ = ["ChunkRef", "ChunkStore", "FileWriter"]

READ_AHEAD = 16  # chunks fetched and verified concurrently ahead of the reader ...
READ_AHEAD_BYTES = 16 * 1024 * 1024  # ... and at most this many bytes of them (one chunk always)
WRITE_AHEAD_MAX = 8  # chunks in flight per writer: memory per writer is at worst about 2 * this * chunk_max
KNOWN_CHUNKS = 65_536  # hashes remembered as stored (~150 bytes each), to skip exists() calls
CHECKS_AT_ONCE = 32  # chunk existence checks in flight for one request
MISSING_LISTED = 100  # hashes an error lists at most
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
CACHED_MANIFEST_REFS = 100_000  # refs of out-of-line manifests kept in memory (~200 bytes each)
PACK_MIN_CHUNKS = 2  # new chunks of one `write_smalls` that go into a pack instead of loose objects


class ChunkStore:
    """Writes, appends and reads files as chunks; see docs/storage.md."""

    def __init__(
        self, backend: ObjectStore, settings: StoreSettings, metrics: StoreMetrics | None = None
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.write_ahead = min(settings.io_workers, WRITE_AHEAD_MAX)
        self.read_ahead = READ_AHEAD
        self.read_ahead_bytes = READ_AHEAD_BYTES
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
        self._known: OrderedDict[bytes, int | None] = OrderedDict()  # digest -> length, if known
        # Chunks this process stored in packs (and only there, as far as it knows): digest -> location.
        self._packed: OrderedDict[bytes, str] = OrderedDict()
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
        return (await self.write_smalls([data]))[0]

    async def write_smalls(self, files: Sequence[bytes | memoryview]) -> list[FileContent]:
        """Store many small files at once: every one smaller than the minimum chunk size is hashed and
        framed in one thread hop for all (no `exists` calls: small idempotent writes cost about the
        same). With `pack_small_files`, two or more new chunks are written as one pack object and each
        file's content says where its chunk is (`FileContent.pack`); otherwise, or for a single new
        chunk, they are written loose with one `put_many`. Larger files are chunked.
        """
        small = [i for i, data in enumerate(files) if len(data) < self.settings.chunk_min]
        out: list[FileContent | None] = [None] * len(files)
        for i, data in enumerate(files):
            if len(data) >= self.settings.chunk_min:
                out[i] = await self.write_bytes(bytes(data))
        prepared = await asyncio.to_thread(self._prepare_smalls, [files[i] for i in small])
        puts: dict[bytes, tuple[Data, int]] = {}
        waiting: list[tuple[int, bytes]] = []  # files whose content names the pack being written
        for i, (content, digest, stored) in zip(small, prepared, strict=True):
            out[i] = content
            size = len(files[i])
            if not size:
                continue
            if digest in self._known:
                self._note_known(digest)
                self._count_dedup(size)
            elif (located := self._packed.get(digest)) is not None:
                self._packed.move_to_end(digest)
                out[i] = _packed_content(content, located)
                self._count_dedup(size)
            elif digest in puts or not stored:  # a twin in this call, or one stored since the hashing
                self._count_dedup(size)
                waiting.append((i, digest))
            else:
                puts[digest] = (stored, size)
                waiting.append((i, digest))
        if self.settings.pack_small_files and len(puts) >= PACK_MIN_CHUNKS:
            pack_id, pieces, locations = pack.build([(d, stored) for d, (stored, _) in puts.items()])
            await self.backend.put(pack.pack_key(pack_id), pieces)
            self._chunks_written.inc(len(puts))
            self._bytes_written.inc(sum(map(len, pieces)))
            located_at = {d: str(loc) for d, loc in zip(puts, locations, strict=True)}
            for digest, where in located_at.items():
                self._remember_packed(digest, where)
            for i, digest in waiting:
                written = out[i]
                if digest in located_at and written is not None:
                    out[i] = _packed_content(written, located_at[digest])
        elif puts:
            await self.backend.put_many([(chunk.chunk_key(d.hex()), stored) for d, (stored, _) in puts.items()])
            self._chunks_written.inc(len(puts))
            self._bytes_written.inc(sum(data_length(stored) for stored, _ in puts.values()))
            for digest, (_, size) in puts.items():
                self._remember(digest, size)
        return [c for c in out if c is not None]

    def _prepare_smalls(self, files: list[bytes | memoryview]) -> list[tuple[FileContent, bytes, Data]]:
        out = []
        for data in files:
            digest = chunk.chunk_hash(data)
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            packed = manifest.pack([(digest, len(data))]) if data else b""
            # Membership only (atomic under the GIL): a chunk known to be stored is not framed again.
            known = digest in self._known
            stored: Data = b""
            if data and not known:  # raw: the header and the file as two pieces (no copy); else zstd
                stored = chunk.frame_raw(data) if self._zstd_level is None else chunk.encode(data, zstd_level=self._zstd_level)
            out.append((manifest.file_content(packed, size=len(data), md5=md5), digest, stored))
        return out

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

    async def store_chunk(
        self, data: bytes | memoryview, *, expected: bytes | None = None, digest: bytes | None = None
    ) -> bytes:
        """Store one chunk unless it already is; return its digest. With `expected` (a digest a client
        computed), bytes that hash to anything else are refused with `Invalid` and nothing is stored.
        `digest` is the hash this process already computed for `data` (a writer hashes as it cuts)."""
        return await self._store_hashed(data, expected, digest)

    async def _store_hashed(self, data: bytes | memoryview, expected: bytes | None, known: bytes | None) -> bytes:
        stored: Data | None
        if known is None:
            digest, stored = await asyncio.to_thread(self._hash_and_frame, data)
        else:
            digest, stored = known, chunk.frame_raw(data) if self._zstd_level is None else None
        if expected is not None and digest != expected:
            raise Invalid(
                f"chunk {expected.hex()} does not match its bytes (they hash to {digest.hex()})",
                field="chunk", chunk=expected.hex(),
            )
        while True:
            if digest in self._known:
                self._note_known(digest)
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
                if stored is None:
                    stored = await asyncio.to_thread(chunk.encode, data, zstd_level=self._zstd_level)
                await self.backend.put(key, stored)
                self._chunks_written.inc()
                self._bytes_written.inc(data_length(stored))
            self._remember(digest, len(data))
        finally:
            del self._storing[digest]
            done.set_result(None)  # only a signal: waiters look at `_known` again
        return digest

    def _hash_and_frame(self, data: bytes | memoryview) -> tuple[bytes, Data | None]:
        """The digest, and without compression the stored object too (a header and the chunk, as
        pieces: not copied), so a new chunk costs one thread hop before it is written."""
        digest = chunk.chunk_hash(data)
        return digest, chunk.frame_raw(data) if self._zstd_level is None else None

    # ------------------------------------------------------------------ chunks from clients

    async def missing(self, digests: Sequence[bytes]) -> list[bytes]:
        """Those of `digests` the store does not hold, in order, each once (those it holds are noted,
        with their lengths, so that committing them next costs no I/O)."""
        unknown = [d for d in dict.fromkeys(digests) if d not in self._known]
        slots = asyncio.Semaphore(CHECKS_AT_ONCE)

        async def held(digest: bytes) -> bool:
            async with slots:
                try:
                    length = await self._stored_length(digest)
                except NotFound:
                    return False
            self._remember(digest, length)
            return True

        found = await asyncio.gather(*(held(d) for d in unknown))
        return [d for d, ok in zip(unknown, found, strict=True) if not ok]

    async def _stored_length(self, digest: bytes) -> int | None:
        """The length of a stored chunk, read from its first bytes; raises `NotFound`."""
        head, size = await self.backend.head(chunk.chunk_key(digest.hex()), chunk.HEAD_BYTES)
        return chunk.stored_length(head, size)

    async def put_chunk(self, digest: bytes, data: bytes | memoryview) -> None:
        """Store a chunk a client cut and hashed: it must hash to `digest` and be at most `chunk_max`."""
        if not 0 < len(data) <= self.settings.chunk_max:
            raise Invalid(
                f"a chunk holds 1 to {self.settings.chunk_max} bytes, not {len(data)}",
                field="chunk", chunk=digest.hex(),
            )
        await self.store_chunk(data, expected=digest)

    async def file_from_chunks(self, entries: Sequence[tuple[bytes, int]]) -> FileContent:
        """The `FileContent` of a file made of chunks the store holds, in order; nothing is read or
        written but its manifest. Each chunk must be stored with exactly that length: `Conflict`
        (details `missing`: the first hashes) when some are not stored, `Invalid` for wrong lengths.
        `md5` is not known (the server never saw the bytes whole) unless the file is empty.
        """
        for digest, length in entries:
            if len(digest) != chunk.HASH_SIZE or not 0 < length <= self.settings.chunk_max:
                raise Invalid(
                    f"a manifest entry needs a {chunk.HASH_SIZE}-byte hash and 1 to "
                    f"{self.settings.chunk_max} bytes, not {length}", field="manifest",
                )
        lengths: dict[bytes, int] = {}
        for digest, length in entries:
            if lengths.setdefault(digest, length) != length:
                raise Invalid(f"chunk {digest.hex()} appears with two lengths", field="manifest")
        checks = {d: n for d, n in lengths.items() if self._known.get(d, -1) != n}
        slots = asyncio.Semaphore(CHECKS_AT_ONCE)

        async def check(digest: bytes, length: int) -> str:
            async with slots:
                return await self._check_stored(digest, length)

        verdicts = await asyncio.gather(*(check(d, n) for d, n in checks.items()))
        wrong = [d.hex() for (d, _), v in zip(checks.items(), verdicts, strict=True) if v == "wrong"]
        if wrong:
            raise Invalid(f"{len(wrong)} chunk(s) of the manifest have another length in the store",
                          field="manifest", chunks=wrong[:MISSING_LISTED])
        missing = [d.hex() for (d, _), v in zip(checks.items(), verdicts, strict=True) if v == "missing"]
        if missing:
            raise Conflict(
                f"the store lacks {len(missing)} chunk(s) of the manifest: upload them first",
                missing=missing[:MISSING_LISTED], count=len(missing),
            )
        packed = manifest.pack(entries)
        md5 = EMPTY_MD5 if not entries else None
        content = manifest.file_content(packed, size=sum(n for _, n in entries), md5=md5)
        if not manifest.is_inline(packed):
            await self.put_manifest(content.id, packed)
        return content

    async def _check_stored(self, digest: bytes, length: int) -> str:
        """"ok", "missing" or "wrong" (stored with another length). The length comes from the chunk's
        first bytes; only a chunk whose length they do not tell is read (and verified) whole."""
        known = self._known.get(digest, -1)
        if known is not None and known >= 0:
            return "ok" if known == length else "wrong"
        try:
            stored = await self._stored_length(digest)
        except NotFound:
            return "missing"
        if stored is None:

            def verify(data: bytes) -> None:
                chunk.decode(data, expected=digest, length=length, content_id="")

            try:
                await self.backend.get_with(chunk.chunk_key(digest.hex()), verify)
            except NotFound:
                return "missing"
            except Corrupted:
                return "wrong"
            stored = length
        if stored != length:
            return "wrong"
        self._remember(digest, length)
        return "ok"

    async def put_manifest(self, content_id: str, packed: bytes) -> None:
        """Store an out-of-line manifest (idempotent)."""
        key = chunk.manifest_key(content_id)
        if not await self.backend.exists(key):
            await self.backend.put(key, packed)

    async def loose(self, content: FileContent) -> FileContent:
        """`content` with its chunk stored loose (`chunks/<hash>`): a packed file's one chunk is read out
        of its pack (verified) and stored on its own, so that a manifest naming it is valid anywhere
        (an S3 multipart upload joins the manifests of its parts)."""
        if content.pack is None:
            return content
        blocks = [bytes(b) async for b in self.read(content)]
        await self.store_chunk(b"".join(blocks))
        return content.model_copy(update={"pack": None})

    def forget_known_chunks(self) -> None:
        """Drop the memory of which chunks exist (a GC that deleted chunks or packs calls this)."""
        self._known.clear()
        self._packed.clear()

    def _remember_packed(self, digest: bytes, where: str) -> None:
        self._packed[digest] = where
        self._packed.move_to_end(digest)
        while len(self._packed) > KNOWN_CHUNKS:
            self._packed.popitem(last=False)

    def _remember(self, digest: bytes, length: int | None) -> None:
        """Note a chunk as stored, with its length when known (None: stored compressed, not measured)."""
        self._known[digest] = length
        self._known.move_to_end(digest)
        while len(self._known) > KNOWN_CHUNKS:
            self._known.popitem(last=False)

    def _note_known(self, digest: bytes) -> None:
        self._known.move_to_end(digest)

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
    ) -> AsyncIterator[bytes | memoryview]:
        """The bytes of `content[offset:offset+length]` (to the end when `length` is None), in blocks.

        Blocks are bytes-like: `bytes` or read-only `memoryview`s of them (a raw chunk is not copied).
        Only the chunks covering the range are fetched, up to `read_ahead` chunks or
        `read_ahead_bytes` ahead of the consumer, each verified against its hash; a chunk that is
        missing or wrong raises `Corrupted` (details: `content_id`, `chunk`). A range running past the
        end is cut at the end; an offset past the end is `Invalid`.
        """
        if offset < 0 or offset > content.size:
            raise Invalid(f"offset {offset} is outside the file (size {content.size})", field="offset")
        if length is not None and length < 0:
            raise Invalid("length must not be negative", field="length")
        end = content.size if length is None else min(content.size, offset + length)
        if offset >= end:
            return
        refs = await self.manifest(content)
        located = None
        if content.pack is not None:
            located = pack.parse(content.pack, content_id=content.id)
            if len(refs) != 1:
                raise Corrupted("a packed file must have exactly one chunk", content_id=content.id)
        first = bisect.bisect_right(refs, offset, key=lambda r: r.offset) - 1
        last = bisect.bisect_left(refs, end, key=lambda r: r.offset)  # exclusive
        wanted = deque(refs[first:last])
        window: deque[tuple[ChunkRef, asyncio.Task[bytes | memoryview]]] = deque()
        ahead = 0  # bytes of the chunks in `window`
        try:
            while wanted or window:
                # Keep the window full: at least one chunk, then up to the count and byte bounds.
                while wanted and (not window or (
                    len(window) < self.read_ahead and ahead + wanted[0].length <= self.read_ahead_bytes
                )):
                    ref = wanted.popleft()
                    window.append((ref, asyncio.create_task(self._fetch(content.id, ref, located))))
                    ahead += ref.length
                ref, task = window.popleft()
                data = await task
                ahead -= ref.length
                lo, hi = max(offset - ref.offset, 0), min(end - ref.offset, ref.length)
                yield data if lo == 0 and hi == ref.length else data[lo:hi]
        finally:
            for _, task in window:
                task.cancel()
            if window:
                await asyncio.gather(*(t for _, t in window), return_exceptions=True)

    async def _fetch(self, content_id: str, ref: ChunkRef, located: pack.Location | None = None) -> bytes | memoryview:
        """One chunk, fetched and verified in a single hop to the backend's I/O thread (or read out of
        its pack and verified here: a packed chunk is smaller than `chunk_min`)."""
        if located is not None:
            return await self._fetch_packed(content_id, ref, located)
        stored_size = 0

        def verify(stored: bytes) -> bytes | memoryview:
            nonlocal stored_size
            stored_size = len(stored)
            return chunk.decode(stored, expected=ref.digest, length=ref.length, content_id=content_id)

        try:
            data = await self.backend.get_with(chunk.chunk_key(ref.hash), verify)
        except NotFound as e:
            self._corrupt_chunks.inc()
            raise Corrupted("chunk is missing", content_id=content_id, chunk=ref.hash) from e
        except Corrupted:
            self._bytes_read.inc(stored_size)
            self._corrupt_chunks.inc()
            raise
        self._bytes_read.inc(stored_size)
        return data

    async def _fetch_packed(self, content_id: str, ref: ChunkRef, located: pack.Location) -> bytes | memoryview:
        try:
            stored = await self.backend.get_range(located.key, located.offset, located.length)
        except NotFound as e:
            self._corrupt_chunks.inc()
            raise Corrupted("pack is missing", content_id=content_id, chunk=ref.hash, pack=located.pack) from e
        self._bytes_read.inc(len(stored))
        try:
            if len(stored) != located.length:
                raise Corrupted("pack is shorter than the location of the chunk", content_id=content_id,
                                chunk=ref.hash, pack=located.pack)  # fmt: skip
            return chunk.decode(stored, expected=ref.digest, length=ref.length, content_id=content_id)
        except Corrupted:
            self._corrupt_chunks.inc()
            raise


def _packed_content(content: FileContent, where: str) -> FileContent:
    """`content` stored at `where` in a pack (built without validation: thousands per request, and every
    field comes from the store itself)."""
    return FileContent.model_construct(id=content.id, size=content.size, md5=content.md5, chunks=content.chunks,
                                       pack=where)  # fmt: skip
