"""The public port's SERVER spans: one per request, named by route template, continuing the client's trace."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tusk_ingest.app import Ingest

pytestmark = pytest.mark.timeout(60)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
UPLOAD = "/api/v1/repos/{repo}/refs/{ref}/files/{path}"


async def test_request_span_is_named_by_route_and_continues_the_callers_trace(
    client: httpx.AsyncClient, repo: str, span_exporter: InMemorySpanExporter
) -> None:
    r = await client.put(f"/repos/{repo}/refs/master/files/a/b.txt", content=b"hello",
                         headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})  # fmt: skip
    assert r.status_code == 201, r.text
    spans = span_exporter.get_finished_spans()
    (server,) = [s for s in spans if s.kind == trace.SpanKind.SERVER and s.name.startswith("PUT ")]
    assert server.name == f"PUT {UPLOAD}"  # the template, never the raw path (bounded span names)
    assert server.context.trace_id == int(TRACE_ID, 16)
    assert server.parent is not None and server.parent.span_id == int(PARENT_ID, 16)
    assert dict(server.attributes or {}) == {
        "http.request.method": "PUT", "http.route": UPLOAD, "url.path": f"/api/v1/repos/{repo}/refs/master/files/a/b.txt",
        "http.response.status_code": 201,
    }  # fmt: skip
    (rpc,) = [s for s in spans if s.name == "rpc versioning.file.put"]
    assert rpc.parent is not None and rpc.parent.span_id == server.context.span_id


async def test_client_errors_are_recorded_but_only_server_errors_mark_the_span(
    client: httpx.AsyncClient, span_exporter: InMemorySpanExporter
) -> None:
    r = await client.get("/repos/nope")
    assert r.status_code == 404
    (span,) = [s for s in span_exporter.get_finished_spans() if s.name == "GET /api/v1/repos/{repo}"]
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 404
    assert span.status.status_code == trace.StatusCode.UNSET
    assert span.parent is None  # no traceparent: the request starts a trace


@pytest.mark.parametrize("ingest_overrides", [{"s3_gateway_allow_anonymous": True}])
async def test_s3_requests_are_named_by_resource_kind_and_operation(
    ingest: Ingest, repo: str, span_exporter: InMemorySpanExporter, ingest_overrides: dict[str, object]
) -> None:
    async with httpx.AsyncClient(base_url=ingest.url, timeout=30) as s3:
        assert (await s3.head(f"/{repo}")).status_code == 200
        assert (await s3.head(f"/{repo}/missing/key.txt")).status_code == 404
    spans = {s.name: s for s in span_exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER}
    bucket, key = spans["HEAD /{bucket}"], spans["HEAD /{bucket}/{key}"]
    assert bucket.attributes is not None and bucket.attributes["tusk.s3.operation"] == "head_bucket"
    assert key.attributes is not None and key.attributes["tusk.s3.operation"] == "head_object"
    assert key.attributes["http.route"] == "/{bucket}/{key}" and key.attributes["http.response.status_code"] == 404

