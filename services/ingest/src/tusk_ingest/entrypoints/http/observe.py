"""Request ids, one summary log line per request, and the HTTP metrics (on the service's registry)."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from tusk_ingest.entrypoints.http import state
from tusk_ingest.entrypoints.http.errors import StreamAborted
from tusk_ingest.entrypoints.http.state import Handler

log = structlog.get_logger("tusk_ingest.http")

REQUEST_ID_HEADER = "X-Request-Id"
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")  # echoed ids must be safe to log and return
UNMATCHED = "unmatched"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


class HttpMetrics:
    """`tusk_http_requests_total{route,method,status}`, `tusk_http_request_seconds{route,method}`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "tusk_http_requests", "HTTP requests served by the public API.", ["route", "method", "status"],
            registry=registry,
        )
        self.seconds = Histogram(
            "tusk_http_request_seconds", "Time to serve an HTTP request, body included.", ["route", "method"],
            buckets=BUCKETS, registry=registry,
        )
        self.bytes_in = Counter("tusk_http_upload_bytes", "File bytes received by uploads.", registry=registry)
        self.bytes_out = Counter("tusk_http_download_bytes", "File bytes sent by downloads.", registry=registry)


def failed_status(request: web.Request, exc: BaseException) -> int:
    """The status a request that raised `exc` ends with: an HTTP error's own; a reply streamed and then
    aborted (the REST API's or the S3 gateway's `StreamAborted`), the status its headers already said;
    499 when the client went away; else 500."""
    status = getattr(exc, "status", None)
    if isinstance(exc, web.HTTPException) or isinstance(status, int):
        return int(status)  # type: ignore[arg-type]
    return 499 if request.transport is None or request.transport.is_closing() else 500


def route_label(request: web.Request) -> str:
    """The route template (`/api/v1/repos/{repo}`): bounded cardinality, unlike the path."""
    info = request.match_info
    if info.http_exception is not None or info.route.resource is None:
        return UNMATCHED
    return info.route.resource.canonical


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = given if _GOOD_ID.match(given) else uuid.uuid4().hex
    request[state.REQUEST_ID] = request_id
    route, method = route_label(request), request.method
    metrics = state.deps(request).metrics
    started = time.perf_counter()
    status, aborted = 500, False
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
            status = response.status
            return response
        except BaseException as exc:
            status, aborted = failed_status(request, exc), isinstance(exc, StreamAborted)
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.requests.labels(route=route, method=method, status=str(status)).inc()
            metrics.seconds.labels(route=route, method=method).observe(elapsed)
            log.info(
                "http.request", method=method, route=route, path=request.path, status=status,
                ms=round(elapsed * 1000, 1), bytes_in=request.content_length,
                peer=request.remote, **({"aborted": True} if aborted else {}),
            )


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook, so streamed replies (headers sent inside the handler) carry it too."""
    request_id = request.get(state.REQUEST_ID)
    if request_id is not None and REQUEST_ID_HEADER not in response.headers:
        response.headers[REQUEST_ID_HEADER] = request_id
