"""OpenLineage export: START and COMPLETE/FAIL RunEvents per job, valid against the spec, posted over
HTTP with retries to a local receiver."""

from __future__ import annotations

from aiohttp import web
from lineage_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]
from openlineage_kit import Receiver, check_event  # type: ignore[import-not-found]

COPY = pipeline("copy", pfs("raw", "/*"), "cp -r /pfs/raw/* /pfs/out/")
BROKEN = pipeline("broken", pfs("raw", "/*"), "exit 3")


async def test_runs_are_exported_as_valid_openlineage_events_with_retries(bare: Stack):
    receiver = Receiver(fail_first=2)
    runner = web.AppRunner(receiver.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        stack = bare
        await stack.start_lineage(openlineage_url=f"http://127.0.0.1:{port}", openlineage_backoff=0.05)
        await stack.repo("raw")
        await stack.create(COPY)
        await stack.create({**BROKEN, "datum_tries": 1})
        c = await stack.put("raw", {"/a": "x", "/b": "y"})
        status = await stack.wait_set(c)
        await stack.caught_up()
        jobs = {j.id: j for j in status.jobs}
        await receiver.wait_for(lambda events: sum(e["eventType"] != "START" for e in events) >= len(jobs))
    finally:
        await runner.cleanup()

    assert receiver.refused == 2  # the relay retried through the outage
    for event in receiver.events:
        check_event(event)
    by_run: dict[str, list[dict]] = {}
    for event in receiver.events:
        by_run.setdefault(event["run"]["runId"], []).append(event)
    copy_job = next(j for j in jobs.values() if j.pipeline == "copy")
    broken_job = next(j for j in jobs.values() if j.pipeline == "broken")
    copy_events = [e for e in by_run.values() if e[0]["job"]["name"] == "copy" and
                   e[-1].get("outputs") and e[-1]["outputs"][0]["facets"].get("version", {}).get("datasetVersion")
                   == copy_job.output_commit]  # fmt: skip
    assert copy_events, "no events of the copy job"
    start, done = copy_events[0][0], copy_events[0][-1]
    assert [start["eventType"], done["eventType"]] == ["START", "COMPLETE"]
    assert start["inputs"][0]["facets"]["version"]["datasetVersion"] == c.id
    assert [d["facets"]["version"]["datasetVersion"] for d in done["inputs"]] == [c.id]
    files = done["outputs"][0]["facets"]["tusk_files"]
    assert {f["path"]: [(i["name"], i["version"], i["path"]) for i in f["inputs"]] for f in files["files"]} == {
        "/a": [("raw", c.id, "/a")], "/b": [("raw", c.id, "/b")]}  # fmt: skip
    failed = [e for evs in by_run.values() for e in evs if e["job"]["name"] == "broken" and e["eventType"] == "FAIL"]
    assert any(e["run"]["facets"]["tusk_run"]["job"] == broken_job.id for e in failed)
    assert all(e["run"]["facets"]["errorMessage"]["message"] for e in failed)
