"""The lineage service killed mid-stream catches up with no gaps or duplicates, and `rebuild` gives the
same graph from the versioning and scheduler state, without the events."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import asyncpg
from graph_dump import dump  # type: ignore[import-not-found]
from lineage_stack import Stack, files_at, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.subjects import EVENTS_STREAM
from tusk_common.wire import lineage as wl
from tusk_common.wire import pipelines as w

COPY = pipeline("copy", pfs("raw", "/*"), "cp -r /pfs/raw/* /pfs/out/")
TOTAL = pipeline("total", pfs("copy", "/"), "cat /pfs/copy/* | wc -c > /pfs/out/total")


def _env(stack: Stack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUSK_")}
    env.update({
        "TUSK_NATS_URL": stack.base.nats.url, "TUSK_DATABASE_URL": stack.base.database.url.get_secret_value(),
        "TUSK_STORE_BACKEND": "fs", "TUSK_STORE_PATH": stack.base.store.path, "TUSK_LOG_LEVEL": "warning",
        "TUSK_LOG_FORMAT": "console", "TUSK_LINEAGE_CONSUME_RETRY_DELAY": "0.2", "TUSK_LINEAGE_CONSUME_BATCH": "4", "TUSK_LINEAGE_ACK_WAIT": "2",
    })  # fmt: skip
    return env


async def _applied_once_started(stack: Stack, timeout: float = 20.0) -> int:
    """Wait until the lineage process has applied some events; returns how many."""
    conn = await asyncpg.connect(stack.base.database.url.get_secret_value())
    try:
        for _ in range(int(timeout / 0.05)):
            if await conn.fetchval("SELECT to_regclass('lineage.applied_events')") is not None:
                n = await conn.fetchval("SELECT count(*) FROM lineage.applied_events")
                if n >= 3:
                    return int(n)
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError("the lineage process applied nothing")


async def _expected_runs(stack: Stack) -> int:
    total = 0
    for name in ("copy", "total"):
        for job in (await stack.call(w.ListJobs(pipeline=name))).jobs:
            total += job.counts.processed + job.counts.recovered
    return total


async def test_killed_lineage_catches_up_without_gaps_or_duplicates_and_rebuild_matches(bare: Stack):
    stack = bare
    await stack.repo("raw")
    await stack.create(COPY)
    await stack.create(TOTAL)
    log = await asyncio.to_thread(open, stack.tmp / "lineage.log", "wb")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tusk_lineage", env=_env(stack), stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    commits = []
    try:
        for i in range(6):
            commits.append(await stack.put("raw", {f"/f{i}": f"data {i}", "/shared": f"gen {i}"}))
            if i == 2:
                applied = await _applied_once_started(stack)
                os.killpg(proc.pid, signal.SIGKILL)  # mid-stream: events fetched, some not acked
                await proc.wait()
                assert applied > 0
        for c in commits:
            await stack.wait_set(c)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        log.close()

    lineage = await stack.start_lineage()
    stats = await stack.caught_up()
    assert stats.runs == await _expected_runs(stack)  # no gap, no duplicate run
    jobs = [len((await stack.call(w.ListJobs(pipeline=p))).jobs) for p in ("copy", "total")]
    assert stats.jobs == sum(jobs)
    async with lineage.deps.pool.acquire() as conn:
        ids = await conn.fetch("SELECT event_id FROM applied_events")
    assert len(ids) == len({r["event_id"] for r in ids})
    last = commits[-1]
    up = await stack.lineage_of("total", "master", "/total")
    assert {(r, c, p) for r, c, p in files_at(up) if r == "raw"} == {
        ("raw", commits[i].id, f"/f{i}") for i in range(6)} | {("raw", last.id, "/shared")}  # fmt: skip

    # The events have expired: a rebuild reads versioning and the scheduler alone, and gets the same graph.
    before = await dump(lineage.deps.pool)
    await stack.bus.js.purge_stream(EVENTS_STREAM)
    report = await stack.call(wl.Rebuild(), timeout=60)
    assert report.runs == stats.runs and report.runs_without_outputs == 0
    after = await dump(lineage.deps.pool)
    assert after == before


async def test_a_commit_seen_before_its_parent_waits_for_it_instead_of_starting_a_lane(bare: Stack):
    """After a crash JetStream redelivers the dead consumer's unacknowledged events only when their
    ack_wait ends, while later events already arrive: a child commit can come before its parent."""
    from datetime import UTC, datetime, timedelta

    import pytest

    from tusk_common.errors import Unavailable
    from tusk_common.events import CommitStarted, envelope

    lineage = await bare.start_lineage(parent_wait=60.0)
    parent, child, orphan = "a" * 32, "b" * 32, "c" * 32

    def started(commit: str, of: str | None, *, age: float = 0.0):
        ce = envelope(CommitStarted(repo="r", branch="master", commit=commit, commit_set=commit, parent=of),
                      source="test")
        return ce.model_copy(update={"time": datetime.now(UTC) - timedelta(seconds=age)})

    with pytest.raises(Unavailable, match="waits for its parent"):
        await lineage.projector.apply(started(child, parent))
    await lineage.projector.apply(started(parent, None))
    await lineage.projector.apply(started(child, parent))  # redelivered: now in its parent's lane
    # A parent that never comes (its events expired long ago) is not waited for past parent_wait.
    await lineage.projector.apply(started(orphan, "d" * 32, age=120.0))
    rows = {r["commit_id"]: r for r in await lineage.deps.pool.fetch(
        "SELECT commit_id, lane, seq, lane_start FROM commits WHERE commit_id = ANY($1::text[])",
        [parent, child, orphan])}  # fmt: skip
    assert (rows[child]["lane"], rows[child]["seq"], rows[child]["lane_start"]) == (rows[parent]["lane"], 2, False)
    assert rows[orphan]["lane_start"] is True
