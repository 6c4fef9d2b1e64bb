"""SIGKILL of a worker and of the scheduler during a job: the job still succeeds, outputs exactly once."""

from __future__ import annotations

import asyncio

from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.wire import pipelines as w

SLOW_COPY = ["sh", "-c", 'echo "start $PACH_DATUM_ID"; sleep 1; cp -r /pfs/in/. /pfs/out/']
FILES = {f"/f{i}": f"content {i}" for i in range(6)}


async def _running(stack: Stack, pipeline_name: str) -> w.JobInfo:
    async def check() -> w.JobInfo | None:
        jobs = await stack.jobs(pipeline_name)
        logs = await stack.call(w.GetLogs(pipeline=pipeline_name))
        return jobs[0] if jobs and jobs[0].state == "running" and logs.lines else None

    return await stack.eventually(check, within=20)


async def _exactly_once(stack: Stack, job: w.JobInfo) -> None:
    assert job.state == "success", job
    assert (job.counts.total, job.counts.processed, job.counts.failed) == (6, 6, 0)
    assert await stack.files("copy") == {p: t for p, t in FILES.items()}
    datums = (await stack.call(w.ListDatums(pipeline="copy", job=job.id))).datums
    assert sorted(d.state for d in datums) == ["success"] * 6


async def test_a_worker_killed_mid_job_loses_nothing(bare: Stack):
    await bare.start_scheduler()
    await bare.repo("in")
    await bare.put("in", FILES)
    first = bare.spawn_worker(concurrency=3)
    r = await bare.create(pipeline("copy", pfs("in", "/*"), SLOW_COPY, parallelism_spec={"constant": 3}))
    await _running(bare, "copy")
    bare.kill(first)  # SIGKILL, mid-datum
    bare.spawn_worker(concurrency=3)
    job = await bare.wait_job("copy", r.job, within=60)
    await _exactly_once(bare, job)


async def test_a_scheduler_killed_mid_job_is_replaced_without_losing_or_repeating_work(bare: Stack):
    old = bare.spawn_scheduler()
    await bare.start_worker(concurrency=2)
    await bare.repo("in")
    await bare.put("in", FILES)
    r = await bare.eventually(lambda: _create_when_served(bare), within=30)
    await _running(bare, "copy")
    bare.kill(old)  # SIGKILL: its pipeline lock dies with its connection
    await asyncio.sleep(0.5)
    await bare.start_scheduler()
    job = await bare.wait_job("copy", r.job, within=60)
    await _exactly_once(bare, job)
    assert len(await bare.jobs("copy")) == 1


async def _create_when_served(stack: Stack) -> w.CreatePipelineReply | None:
    from tusk_common.errors import Unavailable

    try:
        return await stack.create(pipeline("copy", pfs("in", "/*"), SLOW_COPY, parallelism_spec={"constant": 2}))
    except Unavailable:
        return None
