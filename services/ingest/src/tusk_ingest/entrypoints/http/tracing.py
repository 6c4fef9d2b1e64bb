"""One OpenTelemetry SERVER span per HTTP request of the public port (REST API and S3 gateway).

The span is named `METHOD /route/{template}` (never the raw path: bounded names), continues a `traceparent`
the client sent, and is the parent of the RPCs the handler makes, so a trace starts at the upload. With
tracing off (no tracer provider installed) the middleware only passes the request on.
"""

from __future__ import annotations

from aiohttp import web
from opentelemetry import propagate, trace

from tusk_common.tracing import recording, tracer
from tusk_ingest.entrypoints.http.observe import failed_status, route_label
from tusk_ingest.entrypoints.http.state import Handler


@web.middleware
async def tracing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not recording():
        return await handler(request)
    route, method = route_label(request), request.method
    attributes = {"http.request.method": method, "http.route": route, "url.path": request.path}
    with tracer().start_as_current_span(
        f"{method} {route}", context=propagate.extract(request.headers), kind=trace.SpanKind.SERVER,
        attributes=attributes, record_exception=False, set_status_on_exception=False,
    ) as span:  # fmt: skip
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except BaseException as exc:
            status = failed_status(request, exc)
            if not isinstance(exc, web.HTTPException):
                span.record_exception(exc)
            raise
        finally:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(trace.StatusCode.ERROR)


def name_route(method: str, route: str, **attributes: str) -> None:
    """Rename the request's span after a route the router does not know (the S3 gateway's catch-all)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attributes({"http.route": route, **attributes})
