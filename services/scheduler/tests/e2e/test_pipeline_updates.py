"""Pipeline specs: versions, updates with and without reprocessing, dry runs, bad specs, stop/start, delete."""

from __future__ import annotations

import pytest
from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.errors import AlreadyExists, Conflict, Invalid, NotFound
from tusk_common.wire import pipelines as w


def upper(suffix: str = "") -> dict:
    return pipeline("up", pfs("txt", "/*"), ["sh", "-c", f"tr a-z A-Z < /pfs/txt/$(ls /pfs/txt) > /pfs/out/$(ls /pfs/txt){suffix}"])


async def test_updates_reprocess_when_the_code_changes_and_keep_outputs_when_asked(stack: Stack):
    await stack.repo("txt")
    await stack.put("txt", {"/a": "ab", "/b": "cd"})
    r = await stack.create(upper())
    assert (await stack.wait_job("up", r.job)).counts.processed == 2
    assert await stack.files("up") == {"/a": "AB", "/b": "CD"}

    # Only the description and parallelism change: a new version, nothing runs again; the pipeline's
    # queue consumer lets 3 of its datums run at once from now on.
    spec = {**upper(), "description": "shouting", "parallelism_spec": {"constant": 3}}
    job = await stack.wait_job("up", (await stack.create(spec, update=True)).job)
    assert (job.counts.processed, job.counts.skipped, job.pipeline_version) == (0, 2, 2)
    consumer = await stack.bus.js.consumer_info("TUSK_DATUMS", w.worker_consumer("up"))
    assert consumer.config.max_ack_pending == 3

    # New code reprocesses by default; the old outputs are replaced.
    job = await stack.wait_job("up", (await stack.create(upper(".v3"), update=True)).job)
    assert (job.counts.processed, job.counts.skipped) == (2, 0)
    assert await stack.files("up") == {"/a.v3": "AB", "/b.v3": "CD"}

    # --keep-outputs: new code, old results kept.
    job = await stack.wait_job("up", (await stack.create(upper(".v4"), update=True, keep_outputs=True)).job)
    assert (job.counts.processed, job.counts.skipped) == (0, 2)
    assert await stack.files("up") == {"/a.v3": "AB", "/b.v3": "CD"}

    # --reprocess: same code, everything runs again.
    job = await stack.wait_job("up", (await stack.create(upper(".v4"), update=True, reprocess=True)).job)
    assert (job.counts.processed, job.counts.skipped) == (2, 0)
    assert await stack.files("up") == {"/a.v4": "AB", "/b.v4": "CD"}

    info = await stack.call(w.InspectPipeline(name="up", history=True))
    assert info.version == 5 and [v.version for v in info.versions] == [5, 4, 3, 2, 1]
    assert info.versions[0].reprocess and info.versions[1].keep_outputs
    # Every version keeps its own spec: what ran in any past job can be read back.
    assert [v.spec and v.spec["transform"]["cmd"] for v in info.versions] == [
        upper(s)["transform"]["cmd"] for s in (".v4", ".v4", ".v3", "", "")]  # fmt: skip
    assert info.versions[3].spec and info.versions[3].spec["description"] == "shouting"
    assert info.versions[0].spec == info.spec
    assert info.description == "" and info.last_job and info.last_job.id == job.id


async def test_dry_run_lists_datums_without_creating_anything(stack: Stack):
    await stack.repo("txt")
    await stack.put("txt", {"/a": "x", "/d/b": "y", "/d/c": "z"})
    reply = await stack.create(pipeline("dry", pfs("txt", "/*"), ["true"]), dry_run=True)
    assert reply.pipeline is None and reply.datum_count == 2
    assert sorted(d.inputs[0].path for d in reply.datums) == ["/a", "/d"]
    assert sorted(d.inputs[0].file_count for d in reply.datums) == [1, 2]
    with pytest.raises(NotFound):
        await stack.call(w.InspectPipeline(name="dry"))


BAD_SPECS = [
    (pipeline("p", pfs("nope", "/*"), ["true"]), "input.pfs.repo", "does not exist"),
    (pipeline("p", pfs("txt", "/*"), ["true"], datum_tries="3"), "datum_tries", "integer"),
    (pipeline("p", pfs("txt", "/[*"), ["true"]), "input.pfs.glob", ""),
    (pipeline("p", pfs("txt", "/*"), ["true"], egress={"URL": "s3://x"}), "egress", "not supported"),
    (pipeline("p", {"cross": [pfs("txt", "/*"), pfs("txt", "/*")]}, ["true"]), "input.cross[1].pfs.name",
     "duplicate"),
    (pipeline("p", pfs("txt", "/*"), ["true"], transform={"secrets": [{"name": "ghost", "env_var": "X",
                                                                          "key": "k"}]}),
     "transform.secrets[0].name", "does not exist"),
    (pipeline("txt", pfs("other", "/*"), ["true"]), "pipeline.name", "already exists"),
]


async def test_bad_specs_are_rejected_naming_the_field(bare: Stack):
    await bare.start_scheduler()
    await bare.repo("txt")
    await bare.repo("other")
    for spec, field, words in BAD_SPECS:
        with pytest.raises((Invalid, AlreadyExists)) as err:
            await bare.create(spec)
        assert err.value.field == field, err.value
        assert words in err.value.message
    assert (await bare.call(w.ListPipelines())).pipelines == []


async def test_cycles_self_reads_and_duplicate_creates_are_rejected(stack: Stack):
    await stack.repo("txt")
    await stack.create(pipeline("a", pfs("txt", "/*"), ["true"]))
    await stack.create(pipeline("b", pfs("a", "/*"), ["true"]))
    with pytest.raises(Invalid, match="cycle: a → b → a"):
        await stack.create(pipeline("a", {"cross": [pfs("txt", "/*"), pfs("b", "/*")]}, ["true"]), update=True)
    with pytest.raises(AlreadyExists):
        await stack.create(pipeline("a", pfs("txt", "/*"), ["true"]))
    with pytest.raises(NotFound):
        await stack.create(pipeline("zz", pfs("txt", "/*"), ["true"]), update=True)
    with pytest.raises(Conflict, match="read the output"):
        await stack.call(w.DeletePipeline(name="a"))


async def test_a_stopped_pipeline_queues_jobs_until_started_and_delete_removes_its_repo(stack: Stack):
    await stack.repo("txt")
    await stack.create(upper())
    paused = await stack.call(w.StopPipeline(name="up"))
    assert paused.state == "paused"
    await stack.put("txt", {"/a": "hello"})
    await stack.eventually(lambda: _has_job(stack, "created"))
    assert (await stack.jobs("up"))[0].state == "created"
    await stack.call(w.StartPipeline(name="up"))
    job = await stack.last_job("up")
    assert job.state == "success" and await stack.files("up") == {"/a": "HELLO"}
    listed = await stack.call(w.ListPipelines())
    assert [p.name for p in listed.pipelines] == ["up"]
    await stack.call(w.DeletePipeline(name="up"))
    assert (await stack.call(w.ListPipelines())).pipelines == []
    assert await stack.files("up") == {}


async def _has_job(stack: Stack, state: str) -> bool:
    jobs = await stack.jobs("up")
    return bool(jobs) and jobs[0].state == state
