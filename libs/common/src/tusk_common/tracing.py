"""OpenTelemetry tracing: off by default, on through the standard `OTEL_*` env vars.

`OTEL_TRACES_EXPORTER=otlp` (or any `OTEL_EXPORTER_OTLP_ENDPOINT`) turns on the OTLP/HTTP exporter;
`OTEL_SERVICE_NAME` defaults to `tusk-<service>`. Spans are made by the bus (RPC, publish, consume) and the
HTTP edge; context travels in NATS headers (`traceparent`).
"""

from __future__ import annotations

import os

from opentelemetry import trace
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
