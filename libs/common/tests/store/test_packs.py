"""Packs: many small files written together are one object, and every read of them is still verified."""

from __future__ import annotations

import random

import pytest
from storekit import SMALL_CHUNKS, Stores, Tamper

from tusk_common.errors import Corrupted
from tusk_common.store import ChunkStore, ObjectStore
from tusk_common.store import pack as packs
from tusk_common.store.chunk import chunk_hash, chunk_key
from tusk_common.wire.versioning import FileContent


def rand(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


async def keys(backend: ObjectStore, prefix: str) -> list[str]:
    return [k async for k in backend.list(prefix)]


async def read_all(store: ChunkStore, content: FileContent) -> bytes:
    return b"".join([bytes(b) async for b in store.read(content)])


async def test_small_files_written_together_are_one_pack_and_read_back(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    files = [rand(100 + i, seed=i) for i in range(20)]
    contents = await store.write_smalls(files)
    assert await keys(stores.backend, "chunks/") == []
    (key,) = await keys(stores.backend, "packs/")
    assert all(c.pack is not None and packs.parse(c.pack, content_id=c.id).key == key for c in contents)
    assert stores.metric("chunks_written") == 20
    for data, content in zip(files, contents, strict=True):
        assert await read_all(store, content) == data
        assert await read_all(stores.make(**SMALL_CHUNKS), content) == data  # another process
    # The pack describes itself: its index names every chunk, each frame where the contents say.
    whole = await stores.backend.get(key)
    index = packs.index(whole)
    assert [d for d, _, _ in index] == [chunk_hash(f) for f in files]
    assert {str(packs.Location(key.rsplit("/", 1)[1], o, n)) for _, o, n in index} == {
        c.pack for c in contents
    }


async def test_a_pack_that_was_written_again_or_is_remembered_adds_nothing(stores: Stores) -> None:
    files = [rand(300, seed=i) for i in range(5)]
    first = await stores.make(**SMALL_CHUNKS).write_smalls(files)
    again = await stores.make(**SMALL_CHUNKS).write_smalls(files)  # a fresh process: the same pack id
    assert again == first and len(await keys(stores.backend, "packs/")) == 1
    store = stores.make(**SMALL_CHUNKS)
    await store.write_smalls(files)
    written = stores.metric("chunks_written")
    mixed = await store.write_smalls([files[0], rand(77, seed=99)])  # one remembered, one new: loose
    assert stores.metric("chunks_written") == written + 1
    assert mixed[0].pack == first[0].pack and mixed[1].pack is None
    assert await keys(stores.backend, "chunks/") == [chunk_key(chunk_hash(rand(77, seed=99)).hex())]


async def test_one_file_or_packing_off_is_stored_loose(stores: Stores) -> None:
    one = await stores.make(**SMALL_CHUNKS).write_small(rand(100, seed=1))
    off = await stores.make(**SMALL_CHUNKS, pack_small_files=False).write_smalls(
        [rand(100, seed=i) for i in (2, 3)]
    )
    assert one.pack is None and all(c.pack is None for c in off)
    assert await keys(stores.backend, "packs/") == []
    assert len(await keys(stores.backend, "chunks/")) == 3


async def test_an_altered_or_missing_pack_is_corrupted(stores: Stores, tamper: Tamper) -> None:
    store = stores.make(**SMALL_CHUNKS)
    files = [rand(1000, seed=i) for i in range(3)]
    contents = await store.write_smalls(files)
    (key,) = await keys(stores.backend, "packs/")
    await tamper(key)  # the middle byte: inside the second frame
    results = []
    for content in contents:
        try:
            results.append(
                await read_all(stores.make(**SMALL_CHUNKS), content) == files[contents.index(content)]
            )
        except Corrupted as e:
            assert e.details["content_id"] == content.id
            results.append(None)
    assert results == [True, None, True]
    assert stores.metric("corrupt_chunks") == 1
    await stores.backend.delete(key)
    with pytest.raises(Corrupted, match="pack is missing"):
        await read_all(store, contents[0])


@pytest.mark.parametrize("where", ["nonsense", "ab:0:10", "{pack}:0:0", "{pack}:-1:10", "{pack}:5:{n}"])
async def test_a_location_that_names_no_frame_of_the_chunk_is_corrupted(stores: Stores, where: str) -> None:
    store = stores.make(**SMALL_CHUNKS)
    contents = await store.write_smalls([rand(1000, seed=i) for i in range(2)])
    loc = packs.parse(contents[0].pack or "", content_id=contents[0].id)
    bad = contents[0].model_copy(update={"pack": where.format(pack=loc.pack, n=loc.length)})
    with pytest.raises(Corrupted):
        await read_all(store, bad)


async def test_loose_copies_a_packed_chunk_out_for_manifests_that_name_it(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    files = [rand(500, seed=i) for i in range(2)]
    contents = await store.write_smalls(files)
    loose = await store.loose(contents[1])
    assert loose.pack is None and loose.id == contents[1].id
    assert await keys(stores.backend, "chunks/") == [chunk_key(chunk_hash(files[1]).hex())]
    assert await read_all(stores.make(**SMALL_CHUNKS), loose) == files[1]
    assert await store.loose(loose) is loose


async def test_appending_to_a_packed_file_equals_writing_the_concatenation(stores: Stores) -> None:
    store = stores.make(**SMALL_CHUNKS)
    files = [rand(3000, seed=i) for i in range(2)]
    contents = await store.write_smalls(files)
    more = rand(20_000, seed=9)

    async def source():  # type: ignore[no-untyped-def]
        yield more

    appended = await store.append(contents[0], source())
    whole = await stores.make(**SMALL_CHUNKS).write_bytes(files[0] + more)
    assert appended == whole and appended.pack is None
    assert await read_all(stores.make(**SMALL_CHUNKS), appended) == files[0] + more
