"""Failing datums: retries, err_cmd recovery, job failure, unrunnable downstream, output conflicts."""

from __future__ import annotations

from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v

SCRIPT = [
    'f=$(ls /pfs/nums)',
    'echo "working on $f"',
    'if [ "$f" = bad.txt ]; then echo "cannot do $f" >&2; exit 3; fi',
    'if [ "$f" = flaky.txt ] && [ ! -e "$TMPDIR/tried" ]; then touch "$TMPDIR/tried"; exit 1; fi',
    'cp /pfs/nums/$f /pfs/out/$f',
]


async def test_failed_datums_fail_the_job_and_make_downstream_unrunnable_until_err_cmd_recovers(stack: Stack):
    await stack.repo("nums")
    await stack.put("nums", {"/ok.txt": "1", "/bad.txt": "2", "/flaky.txt": "3"})
    r = await stack.create(pipeline("fragile", pfs("nums", "/*"), ["sh"], stdin=SCRIPT, datum_tries=2))
    await stack.create(pipeline("after", pfs("fragile", "/"), ["sh", "-c", "cp -r /pfs/fragile/. /pfs/out/"]))
    job = await stack.wait_job("fragile", r.job)
    assert job.state == "failure"
    assert (job.counts.processed, job.counts.failed) == (2, 1)
    bad = (await stack.call(w.ListDatums(pipeline="fragile", job=job.id, state="failed"))).datums
    assert len(bad) == 1 and bad[0].attempts == 2 and "exit code 3" in (bad[0].error or "")
    assert bad[0].datum_id in (job.reason or "")
    # The failed job's output commit holds what succeeded and is marked failed.
    out = await stack.call(v.InspectCommit(repo="fragile", ref=job.output_commit))
    assert out.error
    assert await stack.files("fragile") == {"/ok.txt": "1", "/flaky.txt": "3"}
    after = await stack.last_job("after")
    assert after.state == "unrunnable" and "fragile@" in (after.reason or "")
    # Every attempt's lines are stored with the datum and attempt.
    page = await stack.call(w.GetLogs(pipeline="fragile", job=job.id, datum=bad[0].datum_id))
    texts = [(ln.attempt, ln.stream, ln.message) for ln in page.lines]
    assert (1, "stderr", "cannot do bad.txt") in texts and (2, "stderr", "cannot do bad.txt") in texts
    assert any(s == "system" and "attempt 2 of 2 failed: exit code 3" in m for _, s, m in texts)

    # err_cmd recovers the bad datum: the job succeeds, the good datums are skipped.
    spec = pipeline("fragile", pfs("nums", "/*"), ["sh"], stdin=SCRIPT, datum_tries=2,
                    transform={"err_cmd": ["true"]})  # fmt: skip
    upd = await stack.create(spec, update=True, keep_outputs=True)
    job2 = await stack.wait_job("fragile", upd.job)
    assert job2.state == "success", job2
    assert (job2.counts.skipped, job2.counts.recovered, job2.counts.processed) == (2, 1, 0)
    await stack.eventually(lambda: _state(stack, "after", "success"))
    assert await stack.files("after") == {"/ok.txt": "1", "/flaky.txt": "3"}


async def _state(stack: Stack, pipeline_name: str, state: str) -> bool:
    return (await stack.last_job(pipeline_name)).state == state


async def test_two_datums_writing_one_path_fail_the_job_naming_both(stack: Stack):
    await stack.repo("words")
    await stack.put("words", {"/a": "x", "/b": "y"})
    r = await stack.create(pipeline("clash", pfs("words", "/*"), ["sh", "-c", "cat /pfs/words/* > /pfs/out/same"]))
    job = await stack.wait_job("clash", r.job)
    assert job.state == "failure"
    ids = [d.datum_id for d in (await stack.call(w.ListDatums(pipeline="clash", job=job.id))).datums]
    assert all(i in (job.reason or "") for i in ids) and "/same" in (job.reason or "")


async def test_datum_timeout_stops_a_slow_transform(stack: Stack):
    await stack.repo("slow")
    await stack.put("slow", {"/a": "x"})
    r = await stack.create(pipeline("sleepy", pfs("slow", "/*"), ["sleep", "30"], datum_tries=1,
                                    datum_timeout="500ms"))  # fmt: skip
    job = await stack.wait_job("sleepy", r.job)
    assert job.state == "failure" and "timed out" in (job.reason or "")
