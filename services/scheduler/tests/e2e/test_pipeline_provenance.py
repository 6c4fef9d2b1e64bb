"""What the scheduler and the workers tell about a datum's exact inputs and outputs, for subscribers such as
the lineage service: the output manifests of datum records, and the inputs carried by the events."""

from __future__ import annotations

import json
from typing import Any

from nats.js.api import ConsumerConfig, DeliverPolicy
from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.events import CloudEvent, DatumDone, Event, JobFinished, parse_event
from tusk_common.subjects import EVENTS_STREAM
from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v

TWO = pipeline("two", pfs("in", "/*"), ["sh", "-c", "f=$(ls /pfs/in); cp /pfs/in/$f /pfs/out/$f.1; cp /pfs/in/$f /pfs/out/$f.2"])


async def _json(stack: Stack, ref: v.FileContent) -> Any:
    data = bytearray()
    async for block in stack.store.read(ref):
        data += block
    return json.loads(bytes(data))


async def _events(stack: Stack, kind: type[Event]) -> list[Any]:
    """Every event of `kind` in the stream so far."""
    sub = await stack.bus.js.pull_subscribe(kind.subject(), durable=None, stream=EVENTS_STREAM,
                                            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))  # fmt: skip
    try:
        msgs = await sub.fetch(1000, timeout=1.0)
    except TimeoutError:
        msgs = []
    finally:
        await sub.unsubscribe()
    return [parse_event(CloudEvent.model_validate_json(m.data)) for m in msgs]


async def test_datums_list_their_outputs_inline_or_by_reference(bare: Stack):
    await bare.start_scheduler(inline_outputs=3)
    await bare.start_worker()
    await bare.repo("in")
    await bare.put("in", {"/a": "1", "/b": "2"})
    job = await bare.wait_job("two", (await bare.create(TWO)).job)
    assert job.state == "success"
    listing = await bare.call(v.ListFiles(repo="two", ref=job.output_commit, recursive=True))
    committed = {f.path: f.content for f in listing.files}
    assert sorted(committed) == ["/a.1", "/a.2", "/b.1", "/b.2"]

    plain = (await bare.call(w.ListDatums(pipeline="two", job=job.id))).datums
    assert [(d.outputs, d.outputs_ref) for d in plain] == [(None, None), (None, None)]
    first, second = (await bare.call(w.ListDatums(pipeline="two", job=job.id, outputs=True))).datums
    # One reply carries at most 3 output files inline: the first datum's 2, then the second's by reference.
    assert first.outputs_ref is None and first.outputs is not None
    assert first.outputs == {p: committed[p] for p in (f"{first.inputs[0].path}.1", f"{first.inputs[0].path}.2")}
    assert second.outputs is None and second.outputs_ref is not None
    stored = await _json(bare, second.outputs_ref)
    name = second.inputs[0].path
    assert {p: v.FileContent.model_validate(c) for p, c in stored.items()} == {
        f"{name}.1": committed[f"{name}.1"], f"{name}.2": committed[f"{name}.2"]}  # fmt: skip
    one = await bare.call(w.InspectDatum(pipeline="two", job=job.id, datum=second.datum_id, outputs=True))
    assert one.outputs == {p: v.FileContent.model_validate(c) for p, c in stored.items()}

    # A skipped datum lists the outputs it carried over.
    again = await bare.wait_job("two", (await bare.create({**TWO, "description": "same code"}, update=True)).job)
    carried = (await bare.call(w.ListDatums(pipeline="two", job=again.id, outputs=True, limit=1))).datums[0]
    assert carried.state == "skipped" and carried.outputs == first.outputs


async def test_events_carry_the_exact_inputs_of_jobs_and_datums(stack: Stack):
    await stack.repo("in")
    c = await stack.put("in", {"/a": "1", "/b": "2"})
    job = await stack.wait_job("two", (await stack.create(TWO)).job)
    datums = {d.datum_id: d for d in (await stack.call(w.ListDatums(pipeline="two", job=job.id))).datums}

    async def finished() -> list[Any]:
        return [e for e in await _events(stack, JobFinished) if e.job == job.id]

    (ev,) = await stack.eventually(finished)
    assert ev.inputs == [w.JobInput(repo="in", branch="master", commit=c.id)]

    async def done() -> list[Any]:
        found = [e for e in await _events(stack, DatumDone) if e.job == job.id]
        return found if len(found) == len(datums) else []

    for d in await stack.eventually(done):
        record = datums[d.datum_id]
        assert d.datum_hash == record.datum_hash
        (inp,) = d.inputs
        assert (inp.name, inp.repo, inp.commit, inp.path) == ("in", "in", c.id, record.inputs[0].path)
        content = (await stack.call(v.InspectFile(repo="in", ref=c.id, path=inp.path))).content
        assert [(f.path, f.content) for f in inp.files] == [(inp.path, content)] and inp.files_ref is None
