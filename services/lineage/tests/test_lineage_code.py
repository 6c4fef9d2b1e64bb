"""Every output names the code that made it: the pipeline version its job ran (spec hash, transform hash,
cmd, image and the digest the image is pinned to), for past versions too, and a rebuild knows the same."""

from __future__ import annotations

from graph_dump import dump  # type: ignore[import-not-found]
from lineage_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.wire import lineage as wl
from tusk_common.wire import pipelines as w

SHA = "ab" * 32
IMAGE = f"ghcr.io/acme/copy:2@sha256:{SHA}"
V1 = pipeline("copy", pfs("raw", "/*"), "cp -r /pfs/raw/* /pfs/out/")
V2 = {**V1, "transform": {"cmd": ["sh"], "image": IMAGE,
                          "stdin": ["for f in /pfs/raw/*; do cp $f /pfs/out/$(basename $f).v2; done"]}}  # fmt: skip


def _only(reply: wl.LineageReply, kind: str) -> wl.LineageNode:
    (node,) = [n for n in reply.graph.nodes if n.kind == kind]
    return node


async def test_each_output_names_the_pipeline_version_that_made_it(stack: Stack):
    await stack.repo("raw")
    await stack.create(V1)
    c1 = await stack.put("raw", {"/a": "x"})
    await stack.wait_set(c1)
    o1 = await stack.head("copy")
    job2 = await stack.call(w.WaitJob(pipeline="copy", job=(await stack.create(V2, update=True)).job, timeout=30),
                            timeout=35)  # fmt: skip
    assert job2.state == "success" and job2.output_commit
    await stack.caught_up()
    info = await stack.call(w.InspectPipeline(name="copy", history=True))
    v2, v1 = info.versions

    old = _only(await stack.lineage_of("copy", o1.id, "/a"), "datum").pipeline_version
    assert old == wl.PipelineVersionRef(pipeline="copy", version=1, spec_hash=v1.spec_hash,
                                        transform_hash=v1.transform_hash, cmd=["sh"])  # fmt: skip
    new = _only(await stack.lineage_of("copy", job2.output_commit, "/a.v2"), "datum").pipeline_version
    assert new == wl.PipelineVersionRef(pipeline="copy", version=2, spec_hash=v2.spec_hash,
                                        transform_hash=v2.transform_hash, cmd=["sh"], image=IMAGE,
                                        image_digest=f"sha256:{SHA}")  # fmt: skip
    job = _only(await stack.lineage_of("copy", job2.output_commit), "job")
    assert job.job == job2.id and job.pipeline_version == new
    tree = (await stack.lineage_of("copy", job2.output_commit, "/a.v2", fmt="tree")).rendered or ""
    assert "copy v2 datum" in tree and f"image {IMAGE}" in tree

    # `reproduce` of the old commit gives the old version with its own spec, though v2 is current now.
    plan = await stack.call(wl.Reproduce(repo="copy", ref=o1.id))
    assert plan.steps[0].pipeline_version == old and plan.steps[0].spec == v1.spec
    assert v1.spec is not None and v1.spec["transform"]["stdin"] == V1["transform"]["stdin"]

    # A rebuild knows the code of every version as the live service did.
    assert stack.lineage is not None
    before = await dump(stack.lineage.deps.pool)
    await stack.call(wl.Rebuild(), timeout=60)
    assert await dump(stack.lineage.deps.pool) == before
