"""Typed application and request state of the HTTP app (no string keys)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from tusk_common.store import ChunkStore
from tusk_ingest.adapters.versioning import VersioningClient
from tusk_ingest.auth import Authenticator, Authorizer, Principal
from tusk_ingest.settings import IngestSettings
from tusk_ingest.uploads import Uploads

if TYPE_CHECKING:
    from tusk_ingest.entrypoints.http.observe import HttpMetrics
    from tusk_ingest.entrypoints.http.routes import Route


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Deps:
    """Everything a handler may use, built once by the composition root."""

    settings: IngestSettings
    versioning: VersioningClient
    store: ChunkStore
    uploads: Uploads
    authenticator: Authenticator
    authorizer: Authorizer
    metrics: HttpMetrics


DEPS = web.AppKey("tusk_deps", Deps)
ROUTES = web.AppKey("tusk_routes", tuple)  # tuple[Route, ...]: what OpenAPI documents
OPENAPI = web.AppKey("tusk_openapi", bytes)  # the rendered document, built at start-up

PRINCIPAL = web.RequestKey("tusk_principal", Principal)
REQUEST_ID = web.RequestKey("tusk_request_id", str)


def deps(request: web.Request) -> Deps:
    return request.config_dict[DEPS]


def routes(request: web.Request) -> tuple[Route, ...]:
    return request.config_dict[ROUTES]
