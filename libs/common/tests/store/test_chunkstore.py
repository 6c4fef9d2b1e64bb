"""The ChunkStore contract, run against every backend."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
from collections.abc import AsyncIterator

import blake3
import pytest
from pyfastcdc import FastCDC
from storekit import SMALL_CHUNKS, Stores, Tamper

from tusk_common.errors import Conflict, Corrupted, Invalid, TooLarge, Unavailable
from tusk_common.store import Chunker, ChunkStore, ObjectStore
from tusk_common.store.chunk import chunk_key, manifest_key
from tusk_common.store.manifest import ENTRY
from tusk_common.wire.versioning import FileContent

MiB = 1024 * 1024


def rand(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


async def read_all(
    store: ChunkStore, content: FileContent, offset: int = 0, length: int | None = None
) -> bytes:
    return b"".join([b async for b in store.read(content, offset, length)])


async def blocks(data: bytes, seed: int = 0) -> AsyncIterator[bytes]:
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        n = rng.choice([1, 1000, 65_536, 200_000])
        yield data[i : i + n]
        i += n


async def keys(backend: ObjectStore, prefix: str) -> list[str]:
    return [k async for k in backend.list(prefix)]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("size", [0, 1, 10_000])
async def test_write_small_gives_the_same_content_as_the_streaming_writer(stores: Stores, size: int) -> None:
    data = rand(size, seed=size)
    expected = await stores.make().write_bytes(data)
    store = stores.make()
    content = await store.write_small(data)
    assert content == expected
    assert await read_all(store, content) == data
    again = await store.write_small(data)  # remembered: no second write
    assert again == content


async def test_write_small_hands_larger_files_to_the_chunker(stores: Stores) -> None:
    store = stores.make()
    data = rand(3 * store.settings.chunk_max, seed=3)
    content = await store.write_small(data)
    assert content == await stores.make().write_bytes(data)
    assert len(await store.manifest(content)) > 1


async def test_empty_file_has_no_chunks_and_a_fixed_id(stores: Stores) -> None:
    store = stores.make()
    content = await store.write_bytes(b"")
    assert content == FileContent(id=blake3.blake3(b"").hexdigest(), size=0, md5=md5(b""), chunks="")
    assert await store.manifest(content) == []
    assert await read_all(store, content) == b""
    assert await keys(stores.backend, "chunks/") == []


async def test_small_file_is_one_chunk_with_an_inline_manifest(stores: Stores) -> None:
    store = stores.make()
    data = rand(1000)
    content = await store.write_bytes(data)
    refs = await store.manifest(content)
    digest = blake3.blake3(data).hexdigest()
    assert [(r.hash, r.length, r.offset) for r in refs] == [(digest, 1000, 0)]
    assert content.chunks is not None and content.size == 1000 and content.md5 == md5(data)
    assert await keys(stores.backend, "chunks/") == [f"chunks/{digest[:2]}/{digest}"]
    assert await read_all(store, content) == data


async def test_large_file_round_trips_as_content_defined_chunks(stores: Stores) -> None:
    store = stores.make()
    data = rand(20 * MiB, seed=1)
    content = await store.write_stream(blocks(data))
    assert content.size == len(data) and content.md5 == md5(data)
    assert await read_all(store, content) == data
    # The chunks are FastCDC's over the whole stream, named by the BLAKE3 of their plain bytes.
    settings = store.settings
    cdc = FastCDC(settings.chunk_avg, min_size=settings.chunk_min, max_size=settings.chunk_max)
    expected = [(blake3.blake3(c.data).hexdigest(), c.length) for c in cdc.cut_buf(data)]
    refs = await store.manifest(content)
    assert [(r.hash, r.length) for r in refs] == expected
    assert len(refs) > 10
    packed = b"".join(ENTRY.pack(bytes.fromhex(h), n) for h, n in expected)
    assert content.id == blake3.blake3(packed).hexdigest()
    assert sorted(await keys(stores.backend, "chunks/")) == sorted({chunk_key(h) for h, _ in expected})


async def test_equal_bytes_get_equal_ids_however_they_are_written(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    data = rand(400_000, seed=2)
    a = await store.write_bytes(data)
    b = await store.write_stream(blocks(data, seed=9))
    w = store.writer()
    for i in range(0, len(data), 3):
        await w.write(memoryview(data)[i : i + 3])
    c = await w.finish()
    assert a == b == c
    assert (await store.write_bytes(data + b"!")).id != a.id


async def test_writer_copies_a_buffer_the_caller_reuses(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    data = rand(100_000, seed=3)
    buf = bytearray(1000)
    w = store.writer()
    for i in range(0, len(data), 1000):
        buf[:] = data[i : i + 1000]
        await w.write(buf)
    buf[:] = bytes(1000)
    content = await w.finish()
    assert await read_all(store, content) == data


# ---------------------------------------------------------------- ranges


RANGES = {
    "start": lambda refs, size: (0, 10),
    "whole": lambda refs, size: (0, None),
    "one_chunk_exactly": lambda refs, size: (refs[2].offset, refs[2].length),
    "middle_spanning_boundaries": lambda refs, size: (refs[3].offset - 5, refs[6].end - refs[3].offset + 10),
    "inside_one_chunk": lambda refs, size: (refs[4].offset + 1, refs[4].length - 2),
    "end": lambda refs, size: (size - 7, None),
    "past_the_end_is_cut": lambda refs, size: (size - 7, 1000),
    "zero_length": lambda refs, size: (1234, 0),
    "at_the_end": lambda refs, size: (size, None),
}


@pytest.mark.parametrize("case", RANGES)
async def test_range_reads_fetch_only_the_chunks_they_need(stores: Stores, case: str) -> None:
    store = stores.make(**SMALL_CHUNKS)
    data = rand(300_000, seed=4)
    content = await store.write_bytes(data)
    refs = await store.manifest(content)
    offset, length = RANGES[case](refs, len(data))
    end = len(data) if length is None else min(len(data), offset + length)
    before = stores.metric("bytes_read")
    got = await read_all(store, content, offset, length)
    assert got == data[offset:end]
    needed = [r for r in refs if r.offset < end and r.end > offset] if end > offset else []
    # Raw frames: 1 header byte + the chunk.
    assert stores.metric("bytes_read") - before == sum(r.length + 1 for r in needed)


@pytest.mark.parametrize(
    ("offset", "length", "field"), [(-1, None, "offset"), (10_001, None, "offset"), (0, -1, "length")]
)
async def test_bad_ranges_are_invalid(stores: Stores, offset: int, length: int | None, field: str) -> None:
    store = stores.make()
    content = await store.write_bytes(rand(10_000))
    with pytest.raises(Invalid) as info:
        await read_all(store, content, offset, length)
    assert info.value.field == field


async def test_stopping_a_read_early_leaves_no_task_behind(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    content = await store.write_bytes(rand(500_000, seed=5))
    reader = store.read(content)
    first = await anext(reader)
    assert len(first) > 0
    await reader.aclose()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


# ---------------------------------------------------------------- dedup


async def test_writing_the_same_bytes_again_stores_no_new_chunk(stores: Stores) -> None:
    data = rand(3 * MiB, seed=6)
    first = await stores.make().write_bytes(data)
    stored = await keys(stores.backend, "")
    written = stores.metric("chunks_written")
    n = len(await stores.make().manifest(first))
    # Once through the in-process memory of known chunks, once through a fresh store (exists()).
    for store in (stores.make(), stores.make()):
        store_first = await store.write_bytes(data)
        again = await store.write_bytes(data)
        assert first == store_first == again
    assert await keys(stores.backend, "") == stored
    assert stores.metric("chunks_written") == written
    assert stores.metric("chunks_deduplicated") == 4 * n
    assert stores.metric("bytes_deduplicated") == 4 * len(data)


async def test_editing_the_middle_of_a_file_stores_only_a_few_new_chunks(stores: Stores) -> None:
    store = stores.make()
    data = rand(16 * MiB, seed=7)
    old = await store.write_bytes(data)
    edited = data[: 8 * MiB] + rand(MiB, seed=8) + data[9 * MiB :]
    before = stores.metric("bytes_written")
    new = await store.write_bytes(edited)
    added = stores.metric("bytes_written") - before
    assert MiB <= added <= 4 * MiB
    old_refs, new_refs = await store.manifest(old), await store.manifest(new)
    assert len({r.hash for r in new_refs} - {r.hash for r in old_refs}) <= 6
    assert await read_all(store, new) == edited


async def test_concurrent_writers_of_the_same_bytes_store_each_chunk_once(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    data = rand(1 * MiB, seed=10) + bytes(MiB)  # zeros: the same max-size chunk many times over
    results = await asyncio.gather(*(store.write_bytes(data) for _ in range(4)))
    assert len({r.id for r in results}) == 1
    distinct = {r.hash for r in await store.manifest(results[0])}
    assert stores.metric("chunks_written") == len(distinct)
    assert len(await keys(stores.backend, "chunks/")) == len(distinct)


# ---------------------------------------------------------------- append


@pytest.mark.parametrize("base_size", [0, 100, 300_000])
@pytest.mark.parametrize("extra_size", [0, 50, 250_000])
async def test_append_equals_writing_the_concatenation(
    stores: Stores, base_size: int, extra_size: int
) -> None:
    store = stores.make(**SMALL_CHUNKS)
    base, extra = rand(base_size, seed=11), rand(extra_size, seed=12)
    existing = await store.write_bytes(base)
    appended = await store.append(existing, blocks(extra, seed=13))
    expected = await store.write_bytes(base + extra)
    assert appended == expected
    assert appended.md5 == md5(base + extra)
    assert await read_all(store, appended) == base + extra


async def test_append_past_max_bytes_is_too_large(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    existing = await store.write_bytes(rand(100_000))
    with pytest.raises(TooLarge):
        await store.append(existing, blocks(rand(10_000)), max_bytes=105_000)
    before = stores.metric("bytes_read")
    with pytest.raises(TooLarge):
        await store.append(existing, blocks(b""), max_bytes=99_999)
    assert stores.metric("bytes_read") == before  # refused before reading anything


# ---------------------------------------------------------------- manifests


async def test_manifest_over_64_chunks_is_stored_as_an_object(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    data = rand(2 * MiB, seed=14)
    content = await store.write_bytes(data)
    assert content.chunks is None
    assert await keys(stores.backend, "manifests/") == [manifest_key(content.id)]
    fresh = stores.make(**SMALL_CHUNKS)  # nothing cached
    refs = await fresh.manifest(content)
    assert len(refs) > 64
    assert refs[-1].end == len(data)
    assert await read_all(fresh, content, 1000, 2 * MiB) == data[1000 : 1000 + 2 * MiB]


async def test_manifest_of_64_chunks_or_fewer_travels_inline(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    content = await store.write_bytes(rand(300_000, seed=15))
    assert content.chunks is not None
    assert len(base64.b64decode(content.chunks)) == ENTRY.size * len(await store.manifest(content))
    assert await keys(stores.backend, "manifests/") == []


async def test_missing_or_altered_manifest_object_is_corrupted(stores: Stores, tamper: Tamper) -> None:
    content = await stores.make(**SMALL_CHUNKS).write_bytes(rand(2 * MiB, seed=16))
    await tamper(manifest_key(content.id))
    with pytest.raises(Corrupted) as info:
        await stores.make().manifest(content)
    assert info.value.details["content_id"] == content.id
    await stores.backend.delete(manifest_key(content.id))
    with pytest.raises(Corrupted):
        await read_all(stores.make(), content)


async def test_file_content_that_does_not_match_its_manifest_is_corrupted(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    content = await store.write_bytes(rand(300_000, seed=17))
    packed = bytearray(base64.b64decode(content.chunks or ""))
    packed[-1] ^= 1  # the last chunk's length
    for bad in (
        content.model_copy(update={"chunks": base64.b64encode(packed).decode()}),
        content.model_copy(update={"size": content.size + 1}),
        content.model_copy(update={"chunks": "not base64!"}),
    ):
        with pytest.raises(Corrupted):
            await store.manifest(bad)


# ---------------------------------------------------------------- compression


async def test_zstd_shrinks_compressible_chunks_and_reads_back(stores: Stores) -> None:
    text = b"".join(b"line %d of a very compressible csv file,,,\n" % i for i in range(100_000))
    store = stores.make(compression="zstd")
    content = await store.write_bytes(text)
    assert stores.metric("bytes_written") < len(text) / 4
    refs = await store.manifest(content)
    assert (await stores.backend.get(chunk_key(refs[0].hash)))[0] == 0x01
    # A store without compression reads what one with compression wrote.
    assert await read_all(stores.make(compression="none"), content) == text


async def test_zstd_keeps_incompressible_chunks_raw(stores: Stores) -> None:
    store = stores.make(compression="zstd")
    data = rand(MiB, seed=18)
    content = await store.write_bytes(data)
    refs = await store.manifest(content)
    for ref in refs:
        stored = await stores.backend.get(chunk_key(ref.hash))
        assert stored[0] == 0x00 and stored[1:] == data[ref.offset : ref.end]
    assert stores.metric("bytes_written") == len(data) + len(refs)


async def test_without_compression_chunks_are_stored_raw(stores: Stores) -> None:
    text = b"abc" * 300_000
    store = stores.make(compression="none")
    content = await store.write_bytes(text)
    refs = await store.manifest(content)
    assert stores.metric("bytes_written") == len(text) + len(refs)
    assert await read_all(stores.make(compression="zstd"), content) == text


# ---------------------------------------------------------------- verification


@pytest.mark.parametrize("compression", ["none", "zstd"])
async def test_altered_chunk_is_reported_as_corrupted(
    stores: Stores, tamper: Tamper, compression: str
) -> None:
    store = stores.make(compression=compression, **SMALL_CHUNKS)
    data = b"".join(b"record %d;" % i for i in range(40_000)) if compression == "zstd" else rand(300_000, 19)
    content = await store.write_bytes(data)
    refs = await store.manifest(content)
    await tamper(chunk_key(refs[2].hash))
    with pytest.raises(Corrupted) as info:
        await read_all(store, content)
    assert info.value.details == {"content_id": content.id, "chunk": refs[2].hash}
    assert stores.metric("corrupt_chunks") == 1
    # Ranges that do not touch the bad chunk still read.
    assert await read_all(store, content, 0, refs[2].offset) == data[: refs[2].offset]


async def test_missing_chunk_is_reported_as_corrupted(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    content = await store.write_bytes(rand(300_000, seed=20))
    refs = await store.manifest(content)
    await stores.backend.delete(chunk_key(refs[1].hash))
    with pytest.raises(Corrupted) as info:
        await read_all(store, content, refs[1].offset + 1, 10)
    assert info.value.details == {"content_id": content.id, "chunk": refs[1].hash}
    assert stores.metric("corrupt_chunks") == 1


# ---------------------------------------------------------------- limits, abort, failures


async def test_writing_past_max_bytes_is_too_large(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    w = store.writer(max_bytes=100_000)
    await w.write(rand(60_000))
    with pytest.raises(TooLarge) as info:
        await w.write(rand(60_000))
    assert info.value.field == "body"
    with pytest.raises(RuntimeError):
        await w.write(b"x")
    exact = await store.write_stream(blocks(rand(100_000)), max_bytes=100_000)
    assert exact.size == 100_000
    with pytest.raises(TooLarge):
        await store.write_stream(blocks(rand(100_001)), max_bytes=100_000)


async def test_abort_writes_no_manifest(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    w = store.writer()
    await w.write(rand(2 * MiB, seed=21))  # enough chunks for an out-of-line manifest
    await w.abort()
    await w.abort()  # idempotent
    with pytest.raises(RuntimeError):
        await w.finish()
    assert await keys(stores.backend, "manifests/") == []


async def test_an_error_inside_the_writer_context_aborts(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    with pytest.raises(KeyError):
        async with store.writer() as w:
            await w.write(rand(2 * MiB, seed=22))
            raise KeyError("caller failed")
    assert await keys(stores.backend, "manifests/") == []
    with pytest.raises(RuntimeError):
        await w.write(b"x")


class FailingPuts:
    """Wraps a backend so that puts fail after the first few (the backend going away mid-upload)."""

    def __init__(self, inner: ObjectStore, allowed: int) -> None:
        self._inner = inner
        self.allowed = allowed

    async def put(self, key: str, data: bytes | memoryview) -> None:
        if self.allowed <= 0:
            raise Unavailable("backend went away")
        self.allowed -= 1
        await self._inner.put(key, data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


async def test_upload_failure_surfaces_and_writes_no_manifest(stores: Stores) -> None:
    flaky = ChunkStore(FailingPuts(stores.backend, allowed=3), stores.make(**SMALL_CHUNKS).settings)
    with pytest.raises(Unavailable):
        async with flaky.writer() as w:
            for i in range(30):
                await w.write(rand(100_000, seed=100 + i))
            await w.finish()
    assert await keys(stores.backend, "manifests/") == []
    assert len(await keys(stores.backend, "chunks/")) <= 3


# ---------------------------------------------------------------- many small files, client-cut chunks


async def test_write_smalls_gives_what_write_small_gives_and_stores_twins_once(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    files = [rand(n, seed=n) for n in (0, 1, 100, 4095)] + [rand(100, seed=100), rand(3 * 64 * 1024, seed=7)]
    contents = await store.write_smalls(files)
    expected = [await stores.make(**SMALL_CHUNKS).write_small(f) for f in files]
    assert [c.model_copy(update={"pack": None}) for c in contents] == expected
    # The new one-chunk files (the twin too) went into one pack; the empty and the chunked one did not.
    assert [c.pack is not None for c in contents] == [False, True, True, True, True, False]
    for data, content in zip(files, contents, strict=True):
        assert await read_all(store, content) == data
    # 0 bytes store nothing, the twin once, the big one as several chunks
    assert stores.metric("chunks_deduplicated") >= 1


def _cut(store: ChunkStore, data: bytes) -> list[tuple[bytes, bytes]]:
    c = Chunker.from_settings(store.settings)
    return [(blake3.blake3(x).digest(), bytes(x)) for x in [*c.feed(data), *c.finish()]]


async def test_client_cut_chunks_commit_to_the_content_a_streamed_write_gives(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    data = rand(500_000, seed=31)
    chunks = _cut(store, data)
    digests = [d for d, _ in chunks]
    assert await store.missing(digests + digests[:1]) == digests  # each once, in order
    for digest, piece in chunks:
        await store.put_chunk(digest, piece)
    assert await store.missing(digests) == []
    content = await store.file_from_chunks([(d, len(p)) for d, p in chunks])
    streamed = await stores.make(**SMALL_CHUNKS).write_bytes(data)
    assert (content.id, content.size, content.chunks) == (streamed.id, streamed.size, streamed.chunks)
    assert content.md5 is None  # never seen whole
    assert await read_all(store, content) == data
    # A fresh process (nothing remembered) checks each chunk's length from its first bytes.
    again = await stores.make(**SMALL_CHUNKS).file_from_chunks([(d, len(p)) for d, p in chunks])
    assert again == content


async def test_a_chunk_that_does_not_hash_to_its_digest_is_refused(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    digest = blake3.blake3(b"the real bytes").digest()
    with pytest.raises(Invalid) as info:
        await store.put_chunk(digest, b"other bytes")
    assert info.value.details["chunk"] == digest.hex()
    with pytest.raises(Invalid):
        await store.put_chunk(digest, rand(64 * 1024 + 1))  # larger than chunk_max
    assert await keys(stores.backend, "chunks/") == []


async def test_a_manifest_naming_a_missing_chunk_or_a_wrong_length_is_refused(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    present = rand(1000, seed=41)
    digest = blake3.blake3(present).digest()
    await store.put_chunk(digest, present)
    absent = blake3.blake3(b"never uploaded").digest()
    with pytest.raises(Conflict) as info:
        await store.file_from_chunks([(digest, 1000), (absent, 14)])
    assert info.value.details["missing"] == [absent.hex()]
    for fresh in (store, stores.make(**SMALL_CHUNKS)):
        with pytest.raises(Invalid):
            await fresh.file_from_chunks([(digest, 999)])
    assert await keys(stores.backend, "manifests/") == []
    empty = await store.file_from_chunks([])
    assert (empty.size, empty.md5) == (0, md5(b""))
