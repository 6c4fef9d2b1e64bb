"""Atomic writes under concurrency, large directories, and events written with the state they announce."""

from __future__ import annotations

import asyncio
import json

import pytest
from nats.js.api import DeliverPolicy
from versioning_kit import put

from tusk_common.errors import Conflict
from tusk_common.wire import versioning as v


async def test_concurrent_atomic_puts_each_make_their_own_commit_and_lose_nothing(service):
    await service.call(v.CreateRepo(name="r"))
    results = await asyncio.gather(
        *(service.call(v.PutFiles(repo="r", ref="master", changes=[put(f"/w{i}", str(i))])) for i in range(12))
    )
    ids = {r.commit.id for r in results}
    assert len(ids) == 12 and all(r.atomic for r in results)
    history = await service.call(v.ListCommits(repo="r", branch="master", limit=100))
    assert {c.id for c in history.commits} == ids
    assert history.commits[-1].parent is None  # one linear chain
    head = await service.call(v.InspectCommit(repo="r", ref="master"))
    assert head.file_count == 12


async def test_concurrent_puts_into_one_open_commit_are_all_staged(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    await asyncio.gather(
        *(service.call(v.PutFiles(repo="r", ref="master", changes=[put(f"/d/{i}")])) for i in range(15))
    )
    done = await service.call(v.FinishCommit(repo="r", ref=c.id))
    assert done.file_count == 15


async def test_a_put_racing_start_commit_lands_in_one_of_the_two_commits(service):
    await service.call(v.CreateRepo(name="r"))
    started, put_res = await asyncio.gather(
        service.call(v.StartCommit(repo="r", branch="master")),
        service.call(v.PutFiles(repo="r", ref="master", changes=[put("/x")])),
    )
    if put_res.atomic:
        assert started.parent == put_res.commit.id
    else:
        assert put_res.commit.id == started.id
    await service.call(v.FinishCommit(repo="r", ref="master"))
    assert (await service.call(v.InspectFile(repo="r", ref="master", path="/x"))).type == "file"


@pytest.mark.slow
async def test_one_file_change_in_a_100k_file_directory_writes_a_handful_of_nodes(service):
    await service.call(v.CreateRepo(name="big"))
    c = await service.call(v.StartCommit(repo="big", branch="master"))
    for start in range(0, 100_000, 10_000):
        batch = [put(f"/data/f{i:06d}.csv", f"{i}") for i in range(start, start + 10_000)]
        await service.call(v.PutFiles(repo="big", ref=c.id, changes=batch), timeout=60)
    done = await service.call(v.FinishCommit(repo="big", ref=c.id), timeout=60)
    assert done.file_count == 100_000
    stats = service.deps.views.cache.stats
    for change in ([put("/data/f050000.csv", "changed")], [put("/data/new.csv")], [v.FileChange(op="delete", path="/data/f000001.csv")]):
        before = stats.written
        await service.call(v.PutFiles(repo="big", ref="master", changes=change))
        assert stats.written - before <= 5  # root, /data's index, one or two pages
    listed = await service.call(v.ListFiles(repo="big", ref="master", path="/data", limit=3, cursor=None))
    assert [f.path for f in listed.files] == ["/data/f000000.csv", "/data/f000002.csv", "/data/f000003.csv"]


async def events_of(service, count: int, wait: float = 10.0) -> list[dict]:
    sub = await service.bus.js.subscribe("tusk.events.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    out = []
    try:
        while len(out) < count:
            msg = await sub.next_msg(timeout=wait)
            out.append(json.loads(msg.data))
    finally:
        await sub.unsubscribe()
    return out


async def test_each_state_change_emits_its_events_and_a_failed_one_emits_none(service):
    await service.call(v.CreateRepo(name="r"))
    first = (await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))).commit
    with pytest.raises(Conflict):
        await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/b"), put("/a/c")]))
    second = await service.call(v.StartCommit(repo="r", branch="master"))
    await service.call(v.FinishCommit(repo="r", ref="master"))
    await service.call(v.DeleteRepo(name="r"))
    events = await events_of(service, 8)
    kinds = [(e["type"], e["data"].get("commit") or e["data"].get("head")) for e in events]
    assert kinds == [
        ("io.tusk.repo.created.v1", None),
        ("io.tusk.commit.started.v1", first.id),
        ("io.tusk.commit.finished.v1", first.id),
        ("io.tusk.branch.updated.v1", first.id),
        ("io.tusk.commit.started.v1", second.id),
        ("io.tusk.branch.updated.v1", second.id),
        ("io.tusk.commit.finished.v1", second.id),
        ("io.tusk.repo.deleted.v1", None),
    ]
    assert events[5]["data"]["previous"] == first.id
    assert events[2]["data"]["file_count"] == 1 and events[2]["source"] == "tusk/versioning"


async def test_events_are_written_in_the_same_transaction_as_the_commit(service):
    await service.call(v.CreateRepo(name="r"))
    pool = service.deps.pool
    relay_paused = await pool.acquire()
    try:
        # Lock the outbox so the relay cannot drain it: the rows must be there when the put returns.
        await relay_paused.execute("BEGIN; LOCK TABLE outbox IN SHARE ROW EXCLUSIVE MODE")
        task = asyncio.create_task(service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")])))
        await asyncio.sleep(0.5)
        # the put waits for the outbox lock: its commit is not visible either (one transaction)
        assert not task.done()
        assert await pool.fetchval("SELECT count(*) FROM commits") == 0
    finally:
        await relay_paused.execute("ROLLBACK")
        await pool.release(relay_paused)
    res = await task
    assert res.atomic
