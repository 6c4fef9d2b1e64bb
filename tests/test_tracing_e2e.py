"""One trace from an upload to the downstream job: every service in this process, one in-memory exporter.

Versioning, ingest (its real HTTP port), the scheduler and a worker run in-process (`running_service`)
against a real NATS and Postgres, with the SDK's `InMemorySpanExporter` installed as this process's
tracer provider. A file PUT over HTTP into `books` triggers `wordcount`, whose output commit triggers
`total`; every span from the HTTP request through the versioning RPC, the outbox, the scheduler's
consumer, both jobs' steps, their datums on the worker and the output commits is in ONE connected trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tusk_common.bus import Bus
from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import ServiceSettings
from tusk_common.wire import pipelines as w
from tusk_ingest.app import Ingest
from tusk_ingest.app import build as build_ingest
from tusk_ingest.settings import IngestSettings
from tusk_scheduler.app import build as build_scheduler
from tusk_scheduler.settings import SchedulerSettings
from tusk_versioning.app import build as build_versioning
from tusk_versioning.settings import VersioningSettings
from tusk_worker.app import build as build_worker
from tusk_worker.settings import WorkerSettings

SECRET_KEY = "0123456789abcdef" * 4
WORDCOUNT = {
    "pipeline": {"name": "wordcount"}, "input": {"pfs": {"repo": "books", "glob": "/*"}},
    "transform": {"cmd": ["sh"], "stdin": [
        "for f in $(find /pfs/books -type f); do wc -w < $f > /pfs/out/$(basename $f).count; done"]},
}  # fmt: skip
TOTAL = {
    "pipeline": {"name": "total"}, "input": {"pfs": {"repo": "wordcount", "glob": "/"}},
    "transform": {"cmd": ["sh"], "stdin": ["cat /pfs/wordcount/*.count | awk '{s+=$1} END {print s+0}' > /pfs/out/total"]},
}  # fmt: skip
UPLOAD = "PUT /api/v1/repos/{repo}/refs/{ref}/files/{path}"


@pytest_asyncio.fixture
async def edge(span_exporter: InMemorySpanExporter, service_settings: ServiceSettings,
               tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Bus]]:  # fmt: skip
    """Versioning, scheduler, worker and ingest (after the in-memory provider); an HTTP client and a bus."""
    base = service_settings.model_dump()
    made: list[Ingest] = []

    async def versioning(ctx: ServiceContext) -> None:
        await build_versioning(ctx)

    async def scheduler(ctx: ServiceContext) -> None:
        await build_scheduler(ctx)

    async def worker(ctx: ServiceContext) -> None:
        await build_worker(ctx)

    async def ingest(ctx: ServiceContext) -> None:
        made.append(await build_ingest(ctx))

    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running_service("versioning", VersioningSettings.model_validate(
            {**base, "wait_poll_interval": 0.2}), versioning))  # fmt: skip
        await stack.enter_async_context(running_service("scheduler", SchedulerSettings.model_validate(
            {**base, "secret_key": SECRET_KEY, "sweep_interval": 0.3, "wait_poll_interval": 0.05}), scheduler))  # fmt: skip
        await stack.enter_async_context(running_service("worker", WorkerSettings.model_validate(
            {**base, "concurrency": 2, "refresh_interval": 0.3, "log_flush_interval": 0.05,
             "scratch_dir": str(tmp_path / "scratch")}), worker))  # fmt: skip
        await stack.enter_async_context(running_service("ingest", IngestSettings.model_validate(
            {**base, "http_addr": "127.0.0.1:0"}), ingest))  # fmt: skip
        bus = await Bus.connect(service_settings.nats, name="test-client")
        stack.push_async_callback(bus.close)
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=made[0].url + "/api/v1", timeout=60))
        yield client, bus


async def test_one_trace_follows_an_upload_through_both_jobs_to_the_downstream_job(
    edge: tuple[httpx.AsyncClient, Bus], span_exporter: InMemorySpanExporter
) -> None:
    client, bus = edge
    exporter = span_exporter
    assert (await client.post("/repos", json={"name": "books"})).status_code == 201
    for spec in (WORDCOUNT, TOTAL):
        r = await client.post("/pipelines", json={"spec": spec})
        assert r.status_code == 201, r.text

    r = await client.put("/repos/books/refs/master/files/alice.txt", content=b"one two three\n")
    assert r.status_code == 201, r.text
    commit = r.json()["commit"]
    status = await bus.request(w.WaitCommitSet(commit_set=commit["commit_set"], commit=commit["id"],
                                               repo="books", timeout=60), timeout=65)  # fmt: skip
    assert status.done and not status.failed, status
    jobs = {j.pipeline: j for j in status.jobs}
    assert set(jobs) == {"wordcount", "total"}
    assert jobs["total"].trigger is not None and jobs["total"].trigger.commit == jobs["wordcount"].output_commit

    upload = _one(exporter.get_finished_spans(), UPLOAD)
    trace_id = upload.context.trace_id
    spans = await _settled_trace(exporter, trace_id)
    names = {s.name for s in spans}
    expected = {
        UPLOAD,                                            # ingest: the HTTP request
        "rpc versioning.file.put", "serve versioning.file.put",  # ingest -> versioning
        "publish commit.finished",                         # versioning's outbox relay
        "consume io.tusk.commit.finished.v1",              # the scheduler's consumer, which makes the jobs
        "job start wordcount", "datum wordcount",          # the job's tasks, run by the worker
        "download", "process", "upload",
        "publish datum.done", "consume io.tusk.datum.done.v1",
        "job finish wordcount", "rpc versioning.commit.finish",  # the output commit
        "job start total", "datum total", "job finish total",    # the downstream job
    }  # fmt: skip
    assert expected <= names, f"missing from the upload's trace: {sorted(expected - names)}"

    # Every job and datum span of both jobs is in this trace (none started a trace of its own)...
    ours = {jobs["wordcount"].id, jobs["total"].id}
    for s in exporter.get_finished_spans():
        if (job := (s.attributes or {}).get("tusk.job")) in ours:
            assert s.context.trace_id == trace_id, f"{s.name} of job {job} left the trace"
    assert {s.attributes.get("tusk.job") for s in spans if s.name.startswith("datum ") and s.attributes
            and "tusk.job" in s.attributes} == ours  # fmt: skip
    # ...and the trace is one tree: a single root (the upload), every other span's parent in it.
    ids = {s.context.span_id for s in spans}
    assert [s.name for s in spans if s.parent is None or s.parent.span_id not in ids] == [UPLOAD]
    assert upload.kind == trace.SpanKind.SERVER
    assert upload.attributes is not None and upload.attributes["http.response.status_code"] == 201
    assert upload.attributes["http.route"] == "/api/v1/repos/{repo}/refs/{ref}/files/{path}"


def _one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{len(found)} spans named {name!r}"
    return found[0]


async def _settled_trace(exporter: InMemorySpanExporter, trace_id: int, within: float = 15.0) -> list[Any]:
    """The trace's finished spans once every parent they name has finished too (spans end after the
    replies the test waited for: the last consumers, the relay's publish)."""
    deadline = time.monotonic() + within
    while True:
        spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
        ids = {s.context.span_id for s in spans}
        orphans = [s.name for s in spans if s.parent is not None and s.parent.span_id not in ids]
        if not orphans and any(s.name == "job finish total" for s in spans):
            return spans
        if time.monotonic() > deadline:
            return spans
        await asyncio.sleep(0.1)
