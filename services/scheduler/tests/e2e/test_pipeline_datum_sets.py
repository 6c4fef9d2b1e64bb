"""Datum sets: datums travel in sets as `datum_set_spec` says, each answered on its own; a set cut short by
a dead worker runs again and every datum's output still enters the job once."""

from __future__ import annotations

from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.subjects import DATUMS_STREAM
from tusk_common.wire import pipelines as w

FILES = {f"/f{i:02d}": f"content {i}" for i in range(12)}
SLOW_COPY = ["sh", "-c", 'echo "start $PACH_DATUM_ID"; sleep 0.3; cp -r /pfs/in/. /pfs/out/']


async def _queued(stack: Stack, name: str) -> int:
    """Task messages of `name` waiting in TUSK_DATUMS."""
    subject = w.task_subject(name)
    info = await stack.bus.js.stream_info(DATUMS_STREAM, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def _states(stack: Stack, name: str, job: str) -> list[str]:
    return sorted(d.state for d in (await stack.call(w.ListDatums(pipeline=name, job=job))).datums)


async def test_a_set_cut_short_by_a_dead_worker_runs_again_and_outputs_enter_once(bare: Stack):
    await bare.start_scheduler()
    await bare.repo("in")
    await bare.put("in", FILES)
    r = await bare.create(pipeline("copy", pfs("in", "/*"), SLOW_COPY, datum_set_spec={"number": 4}))

    async def three_sets() -> bool:
        return await _queued(bare, "copy") == 3

    # No worker yet: the 12 datums wait as 3 messages of 4.
    await bare.eventually(three_sets, within=20)
    first = bare.spawn_worker(concurrency=1)

    async def some_done() -> bool:
        return "success" in await _states(bare, "copy", r.job)

    await bare.eventually(some_done, within=30, every=0.05)
    listed = (await bare.call(w.ListDatums(pipeline="copy", job=r.job))).datums
    bare.kill(first)  # SIGKILL in the middle of the first set (it takes 4 * 0.3 s)
    answered = {d.datum_id for d in listed if d.state == "success"}
    assert answered
    bare.spawn_worker(concurrency=1)
    job = await bare.wait_job("copy", r.job, within=90)
    assert job.state == "success", job
    assert (job.counts.total, job.counts.processed, job.counts.failed) == (12, 12, 0)
    assert await bare.files("copy") == FILES
    assert await _states(bare, "copy", r.job) == ["success"] * 12
    # The set came back to the second worker, which asked which of its datums still had no answer: the
    # datums answered before the kill did not run again (the one running at the kill did).
    lines = (await bare.call(w.GetLogs(pipeline="copy", job=r.job, limit=1000))).lines
    starts = [ln.message.removeprefix("start ") for ln in lines if ln.message.startswith("start ")]
    assert len(set(starts)) == 12, starts
    assert all(starts.count(d) == 1 for d in answered), (answered, starts)
    # Once the job is over, nothing is pending any more.
    ids = [d.datum_id for d in (await bare.call(w.ListDatums(pipeline="copy", job=r.job))).datums]
    assert (await bare.call(w.PendingDatums(job=r.job, datums=ids))).datums == []


async def test_each_datum_of_a_set_is_answered_on_its_own(stack: Stack):
    await stack.repo("in")
    await stack.put("in", FILES)
    only_f03_fails = ["sh", "-c", "test ! -e /pfs/in/f03 && cp -r /pfs/in/. /pfs/out/"]
    r = await stack.create(pipeline("pick", pfs("in", "/*"), only_f03_fails, datum_tries=1,
                                    datum_set_spec={"number": 6}))  # fmt: skip
    job = await stack.wait_job("pick", r.job, within=60)
    assert job.state == "failure", job
    assert (job.counts.total, job.counts.processed, job.counts.failed) == (12, 11, 1)
    datums = (await stack.call(w.ListDatums(pipeline="pick", job=r.job))).datums
    failed = [d for d in datums if d.state == "failed"]
    assert len(failed) == 1 and failed[0].inputs[0].path == "/f03", failed


async def test_size_bytes_closes_a_set_at_the_input_bytes_it_names(bare: Stack):
    await bare.start_scheduler()
    await bare.repo("in")
    await bare.put("in", FILES)  # 9 or 10 bytes each: three fit in 30 bytes, four never do
    await bare.create(pipeline("sized", pfs("in", "/*"), SLOW_COPY, datum_set_spec={"size_bytes": 30}))

    async def four_sets() -> bool:
        return await _queued(bare, "sized") == 4

    await bare.eventually(four_sets, within=20)
