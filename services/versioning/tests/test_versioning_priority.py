"""Small writes go before bulk reads: a listing or diff pauses at its yield points while a commit is
started or finished, never for longer than `MAX_PAUSE` at a time, and big diffs still come out whole."""

from __future__ import annotations

import asyncio
import time

from versioning_kit import put

from tusk_common.wire import versioning as v
from tusk_versioning import priority
from tusk_versioning.priority import WritesFirst


async def test_a_bulk_read_waits_at_its_yield_point_until_the_write_is_done() -> None:
    gate = WritesFirst()
    order: list[str] = []
    release = asyncio.Event()

    async def writer() -> None:
        async with gate.write():
            order.append("write started")
            await release.wait()
            order.append("write done")

    async def reader() -> None:
        await gate.pause()
        order.append("read went on")

    w = asyncio.create_task(writer())
    await asyncio.sleep(0)
    r = asyncio.create_task(reader())
    await asyncio.sleep(0.01)
    assert order == ["write started"] and gate.writing == 1
    release.set()
    await asyncio.gather(w, r)
    assert order == ["write started", "write done", "read went on"] and gate.writing == 0


async def test_a_bulk_read_is_slowed_by_endless_writes_but_never_stopped(monkeypatch) -> None:
    monkeypatch.setattr(priority, "MAX_PAUSE", 0.02)
    gate = WritesFirst()
    async with gate.write():
        t0 = time.perf_counter()
        await gate.pause()
        assert 0.015 <= time.perf_counter() - t0 < 1


async def test_a_pause_without_writes_only_yields() -> None:
    gate = WritesFirst()
    t0 = time.perf_counter()
    for _ in range(100):
        await gate.pause()
    assert time.perf_counter() - t0 < 0.5


async def test_a_diff_of_thousands_of_files_is_whole_while_commits_finish_beside_it(service) -> None:
    await service.call(v.CreateRepo(name="r"))
    big = await service.call(v.PutFiles(repo="r", ref="master", changes=[put(f"/d/f{i:05d}") for i in range(3000)]))

    async def diff_all() -> list[v.DiffEntry]:
        out: list[v.DiffEntry] = []
        cursor = None
        while True:
            page = await service.call(v.DiffFiles(repo="r", ref=big.commit.id, path="/", limit=1000, cursor=cursor))
            out += page.changes
            cursor = page.next_cursor
            if cursor is None:
                return out

    async def small_commits() -> None:
        for i in range(5):
            c = await service.call(v.StartCommit(repo="r", branch="master"))
            await service.call(v.PutFiles(repo="r", ref=c.id, changes=[put(f"/small/{i}")]))
            await service.call(v.FinishCommit(repo="r", ref=c.id))

    changes, _ = await asyncio.gather(diff_all(), small_commits())
    assert len(changes) == 3000 and {c.change for c in changes} == {"added"}
    assert [c.path for c in changes] == sorted(c.path for c in changes)
    assert all(c.new is not None and c.new.content is not None for c in changes)


async def test_only_a_few_bulk_reads_run_at_once_so_writes_find_a_connection() -> None:
    gate = WritesFirst(bulk_at_once=2)
    running = peak = 0

    async def bulk_read() -> None:
        nonlocal running, peak
        async with gate.bulk():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(bulk_read() for _ in range(8)))
    assert peak == 2
