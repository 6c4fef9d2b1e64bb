"""Jobs and datums from the outside: list, inspect, stop, restart, logs; commit sets; the local runner."""

from __future__ import annotations

import pytest
from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.errors import Conflict, Invalid, NotFound
from tusk_common.wire import pipelines as w


async def test_stop_job_kills_it_and_the_next_job_runs(stack: Stack):
    await stack.repo("in")
    await stack.put("in", {"/a": "1"})
    r = await stack.create(pipeline("slow", pfs("in", "/*"), ["sh", "-c", "echo started; sleep 30"]))
    await stack.eventually(lambda: _logged(stack, "slow"))
    stopped = await stack.call(w.StopJob(pipeline="slow", job=r.job))
    assert stopped.state == "killed" and stopped.reason == "stopped by the user"
    with pytest.raises(Conflict):
        await stack.call(w.StopJob(pipeline="slow", job=r.job))
    with pytest.raises(NotFound):
        await stack.call(w.WaitJob(pipeline="slow", job="nope" * 8, timeout=0.1))
    spec = pipeline("slow", pfs("in", "/*"), ["sh", "-c", "cp /pfs/in/a /pfs/out/a"])
    job = await stack.wait_job("slow", (await stack.create(spec, update=True)).job)
    assert job.state == "success" and await stack.files("slow") == {"/a": "1"}
    states = [j.state for j in await stack.jobs("slow")]
    assert states == ["success", "killed"]


async def test_list_inspect_restart_datums_and_read_logs(stack: Stack):
    await stack.repo("in")
    c = await stack.put("in", {"/a": "1", "/b": "2"})
    r = await stack.create(pipeline("p", pfs("in", "/*"), ["sh", "-c", "echo one; echo two >&2; cp -r /pfs/in/. /pfs/out/"]))
    job = await stack.wait_job("p", r.job)
    by_set = await stack.call(w.InspectJob(pipeline="p", job=job.commit_set))
    assert by_set.id == job.id and job.counts.total == 2 and job.output_commit
    assert job.stats.process_seconds > 0 and job.stats.download_bytes == 2
    datums = (await stack.call(w.ListDatums(pipeline="p", job=job.id, limit=1))).datums
    assert len(datums) == 1
    d = await stack.call(w.InspectDatum(pipeline="p", job=job.id, datum=datums[0].datum_id[:10]))
    assert d.state == "success" and d.output_files == 1 and d.inputs[0].repo == "in"
    with pytest.raises(Conflict):
        await stack.call(w.RestartDatum(pipeline="p", job=job.id, datum=d.datum_id))
    page = await stack.call(w.GetLogs(pipeline="p", job=job.id, datum=d.datum_id))
    assert [(ln.stream, ln.message) for ln in page.lines if ln.stream != "system"] == [("stdout", "one"),
                                                                                      ("stderr", "two")]  # fmt: skip
    tail = await stack.call(w.GetLogs(pipeline="p", tail=1))
    assert len(tail.lines) == 1
    more = await stack.call(w.GetLogs(pipeline="p", cursor=page.next_cursor))
    assert all(ln.seq > page.lines[-1].seq for ln in more.lines)
    by_set_jobs = await stack.call(w.ListJobs(commit_set=job.commit_set))
    assert [j.id for j in by_set_jobs.jobs] == [job.id]
    with pytest.raises(Invalid, match=r"commit_set 'p' is not a commit set id.*list job -p NAME") as bad:
        await stack.call(w.ListJobs(commit_set="p"))  # a pipeline's name where a commit set goes
    assert bad.value.field == "commit_set"
    assert c.commit_set != job.commit_set  # the first job of a new pipeline starts its own commit set


async def test_restart_datum_resends_a_stuck_datum(stack: Stack):
    await stack.repo("in")
    await stack.put("in", {"/a": "1"})
    script = ['if [ -e /pfs/in/a ] && [ ! -e "$TMPDIR/x" ]; then touch "$TMPDIR/x"; fi', "sleep 1", "cp /pfs/in/a /pfs/out/a"]
    r = await stack.create(pipeline("p", pfs("in", "/*"), ["sh"], stdin=script))
    await stack.eventually(lambda: _running(stack, r.job))
    d = (await stack.call(w.ListDatums(pipeline="p", job=r.job))).datums[0]
    restarted = await stack.call(w.RestartDatum(pipeline="p", job=r.job, datum=d.datum_id))
    assert restarted.state == "starting"
    job = await stack.wait_job("p", r.job)
    assert job.state == "success" and job.counts.processed == 1  # the first result counts, once


async def test_the_local_runner_rewrites_pfs_paths(bare: Stack):
    await bare.start_scheduler()
    await bare.start_worker(runner="local")
    await bare.repo("in")
    await bare.put("in", {"/a": "hello"})
    r = await bare.create(pipeline("loc", pfs("in", "/*"), ["sh"], stdin=["cp /pfs/in/a /pfs/out/b", 'echo "$TUSK_PFS_OUT"']))
    job = await bare.wait_job("loc", r.job)
    assert job.state == "success" and await bare.files("loc") == {"/b": "hello"}
    logs = await bare.call(w.GetLogs(pipeline="loc"))
    assert next(ln.message for ln in logs.lines if ln.stream == "stdout").endswith("/pfs/out")


async def _logged(stack: Stack, name: str) -> bool:
    return bool((await stack.call(w.GetLogs(pipeline=name))).lines)


async def _running(stack: Stack, job: str) -> bool:
    return (await stack.call(w.InspectJob(pipeline="p", job=job))).state == "running"


async def test_a_job_whose_input_vanished_fails_instead_of_retrying_forever(stack: Stack):
    from tusk_common.wire import versioning as v

    await stack.repo("in")
    await stack.create(pipeline("p", pfs("in", "/*"), ["true"]))
    await stack.call(w.StopPipeline(name="p"))
    await stack.put("in", {"/a": "1"})
    await stack.eventually(lambda: _has_jobs(stack, "p"))
    await stack.call(v.DeleteRepo(name="in", force=True))
    await stack.call(w.StartPipeline(name="p"))
    job = await stack.last_job("p")
    assert job.state == "failure" and "not_found" in (job.reason or "")


async def _has_jobs(stack: Stack, name: str) -> bool:
    return bool(await stack.jobs(name))
