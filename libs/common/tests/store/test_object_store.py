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
