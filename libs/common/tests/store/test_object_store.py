"""The ObjectStore contract, run against every backend."""

from __future__ import annotations

import asyncio

import pytest

from tusk_common.errors import Invalid, NotFound
from tusk_common.store import ObjectStore


async def test_put_then_get_returns_the_bytes(backend: ObjectStore) -> None:
    await backend.put("chunks/ab/abc", b"hello")
    await backend.put("chunks/ab/view", memoryview(b"xxworldxx")[2:7])
    assert await backend.get("chunks/ab/abc") == b"hello"
    assert await backend.get("chunks/ab/view") == b"world"


async def test_put_in_pieces_stores_them_back_to_back(backend: ObjectStore) -> None:
    big = bytes(range(256)) * 4096
    await backend.put("p/one", (b"\x00", memoryview(big)[10:], b"", b"end"))
    assert await backend.get("p/one") == b"\x00" + big[10:] + b"end"
    await backend.put_many([("p/two", (b"a", b"bc")), ("p/three", b"d")])
    assert (await backend.get("p/two"), await backend.get("p/three")) == (b"abc", b"d")


async def test_put_again_replaces_whole_object(backend: ObjectStore) -> None:
    await backend.put("a/b", b"1" * 100_000)
    await backend.put("a/b", b"2" * 10)
    assert await backend.get("a/b") == b"2" * 10


async def test_empty_object_round_trips(backend: ObjectStore) -> None:
    await backend.put("empty", b"")
    assert await backend.exists("empty")
    assert await backend.get("empty") == b""


async def test_get_missing_raises_not_found(backend: ObjectStore) -> None:
    with pytest.raises(NotFound) as info:
        await backend.get("chunks/00/missing")
    assert info.value.details["key"] == "chunks/00/missing"


async def test_exists_and_delete(backend: ObjectStore) -> None:
    assert not await backend.exists("x/y")
    await backend.put("x/y", b"1")
    assert await backend.exists("x/y")
    assert not await backend.exists("x")  # a "directory" is not an object
    await backend.delete("x/y")
    assert not await backend.exists("x/y")
    await backend.delete("x/y")  # deleting what is missing is not an error


async def test_put_many_stores_every_object(backend: ObjectStore) -> None:
    items = [(f"chunks/{i % 7:02x}/obj{i}", f"data {i}".encode() * i) for i in range(40)]
    await backend.put_many(items)
    await backend.put_many([])
    for key, data in items:
        assert await backend.get(key) == data


async def test_head_gives_the_first_bytes_and_the_size(backend: ObjectStore) -> None:
    await backend.put("h/one", b"0123456789")
    await backend.put("h/empty", b"")
    assert await backend.head("h/one", 4) == (b"0123", 10)
    assert await backend.head("h/one", 100) == (b"0123456789", 10)
    assert await backend.head("h/empty", 4) == (b"", 0)
    with pytest.raises(NotFound):
        await backend.head("h/missing", 4)


async def test_get_range_gives_the_bytes_at_an_offset(backend: ObjectStore) -> None:
    await backend.put("r/one", (b"01234", b"56789"))
    assert await backend.get_range("r/one", 0, 4) == b"0123"
    assert await backend.get_range("r/one", 3, 5) == b"34567"
    assert await backend.get_range("r/one", 8, 10) == b"89"  # cut where the object ends
    assert await backend.get_range("r/one", 10, 4) == b""
    with pytest.raises(NotFound):
        await backend.get_range("r/missing", 0, 4)


async def test_get_with_runs_the_check_on_the_bytes(backend: ObjectStore) -> None:
    await backend.put("g/x", b"abc")
    assert await backend.get_with("g/x", lambda data: data.upper()) == b"ABC"

    def refuse(data: bytes) -> None:
        raise Invalid("not these bytes", field="data")

    with pytest.raises(Invalid):
        await backend.get_with("g/x", refuse)
    with pytest.raises(NotFound):
        await backend.get_with("g/missing", len)


async def test_list_returns_keys_under_prefix_in_byte_order(backend: ObjectStore) -> None:
    keys = ["a/c/d", "a/b", "a-x", "ab", "b/1", "a/b2"]
    await asyncio.gather(*(backend.put(k, k.encode()) for k in keys))
    assert [k async for k in backend.list("a")] == ["a-x", "a/b", "a/b2", "a/c/d", "ab"]
    assert [k async for k in backend.list("a/")] == ["a/b", "a/b2", "a/c/d"]
    assert [k async for k in backend.list("a/b")] == ["a/b", "a/b2"]
    assert [k async for k in backend.list("")] == sorted(keys)
    assert [k async for k in backend.list("zzz/")] == []


async def test_list_pages_through_many_keys(backend: ObjectStore) -> None:
    keys = [f"m/{i:05d}" for i in range(1010)]  # more than one batch / one ListObjects page
    sem = asyncio.Semaphore(32)

    async def put(k: str) -> None:
        async with sem:
            await backend.put(k, b"")

    await asyncio.gather(*(put(k) for k in keys))
    assert [k async for k in backend.list("m/")] == keys


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "../x", "a/../b", "a/./b", "a/.tmp-x", "a/"])
async def test_bad_keys_are_rejected(backend: ObjectStore, key: str) -> None:
    with pytest.raises(Invalid):
        await backend.put(key, b"x")
    with pytest.raises(Invalid):
        await backend.get(key)
