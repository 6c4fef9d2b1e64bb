"""OpenTelemetry tracing: off by default, on through the standard `OTEL_*` env vars.

`OTEL_TRACES_EXPORTER=otlp` (or any `OTEL_EXPORTER_OTLP_ENDPOINT`) turns on the OTLP/HTTP exporter;
`OTEL_SERVICE_NAME` defaults to `tusk-<service>`. Spans are made by the bus (RPC, publish, consume), the
HTTP edge, the scheduler (job steps) and the worker (datums); context travels in NATS headers
(`traceparent`), in outbox rows, and with each job row across the scheduler's asynchronous hops.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

TRACER_NAME = "tusk"


def tracing_enabled() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "")
    if exporter == "none":
        return False
    return exporter == "otlp" or bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup_tracing(service: str, *, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install a tracer provider for this process when tracing is on (or an exporter is given)."""
    if exporter is None:
        if not tracing_enabled():
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    name = os.environ.get("OTEL_SERVICE_NAME", f"tusk-{service}")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def recording() -> bool:
    """Whether this process records spans (a provider is installed): hot paths skip tracing work if not."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def carried() -> dict[str, str] | None:
    """The current trace context as W3C headers, to store with work that goes on later in another task
    (a job); None when there is no trace (tracing off)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


def resumed(headers: Mapping[str, str] | None) -> otel_context.Context:
    """The context `carried()` stored, as the parent of new spans; an empty one (a new trace) without it,
    never the caller's current context."""
    return propagate.extract(dict(headers or {}), context=otel_context.Context())
