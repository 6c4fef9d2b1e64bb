"""The aiohttp application of the public port: middlewares, the route table, typed state.

The API lives under `/api/v1`; the root of the URL space is left free for the S3 gateway, whose bucket
routes (`/{bucket}`, `/{bucket}/{key:.*}`) will be added to the same router after the API routes, so
`/api/...` keeps winning (and `api` stays a reserved bucket name).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from tusk_common.service import tusk_version
from tusk_ingest import openapi
from tusk_ingest.entrypoints.http import (
    branches,
    bulk,
    commits,
    downloads,
    files,
    lineage,
    pipelines,
    repos,
    service,
)
from tusk_ingest.entrypoints.http.errors import errors_middleware
from tusk_ingest.entrypoints.http.observe import add_request_id, observe_middleware
from tusk_ingest.entrypoints.http.routes import Route, guarded, principal_middleware
from tusk_ingest.entrypoints.http.state import DEPS, OPENAPI, ROUTES, Deps
from tusk_ingest.entrypoints.http.tracing import tracing_middleware

API_ROUTES: tuple[Route, ...] = (
    *service.ROUTES,
    *repos.ROUTES,
    *branches.ROUTES,
    *commits.ROUTES,
    *files.ROUTES,
    *downloads.ROUTES,
    *bulk.ROUTES,
    *pipelines.ROUTES,
    *lineage.ROUTES,
)


def make_app(deps: Deps, routes: Iterable[Route] = API_ROUTES) -> web.Application:
    """The public application; middlewares run outermost first: tracing, observe, errors, principal."""
    routes = tuple(routes)
    app = web.Application(
        client_max_size=deps.settings.max_json_bytes,
        middlewares=[tracing_middleware, observe_middleware, errors_middleware, principal_middleware],
    )
    app[DEPS] = deps
    app[ROUTES] = routes
    app[OPENAPI] = openapi.render(routes, version=tusk_version())
    for route in routes:
        app.router.add_route(
            route.method, route.url, guarded(route), name=route.operation_id,
            expect_handler=route.expect_handler,
        )
    app.on_response_prepare.append(add_request_id)
    return app
