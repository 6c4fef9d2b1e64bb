"""Log lines: JSON on stdout with the service and bound ids, and the trace of the span they are logged in."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from tusk_common.logs import setup_logging


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)  # where setup_logging sends the lines
    setup_logging("unit", fmt="json")

    def lines() -> list[dict[str, object]]:
        return [json.loads(line) for line in out.getvalue().splitlines()]

    yield lines
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def test_a_line_carries_service_bound_ids_and_no_trace_outside_a_span(json_logs) -> None:
    log = structlog.get_logger("t")
    structlog.contextvars.bind_contextvars(job="j1", datum="d1")
    log.info("datum.finished", state="success")
    (line,) = json_logs()
    assert line | {"event": "datum.finished", "service": "unit", "job": "j1", "datum": "d1",
                   "level": "info", "state": "success"} == line
    assert "trace_id" not in line and "span_id" not in line


def test_a_line_logged_in_a_span_names_its_trace_and_span(json_logs) -> None:
    tracer = TracerProvider().get_tracer("test")  # a real SDK span, without installing a global provider
    log = structlog.get_logger("t")
    with tracer.start_as_current_span("job start p") as span:
        log.info("job.started")
    log.info("after")
    inside, after = json_logs()
    ctx = span.get_span_context()
    assert inside["trace_id"] == format(ctx.trace_id, "032x") and len(inside["trace_id"]) == 32
    assert inside["span_id"] == format(ctx.span_id, "016x")
    assert "trace_id" not in after
