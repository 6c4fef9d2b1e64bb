"""Composition root of the ingest service: bus, chunk store, versioning client, the public HTTP port
(REST API under `/api/v1`, the S3 gateway on the rest of the URL space)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiohttp import web

from tusk_common.bus import Bus
from tusk_common.errors import Unavailable
from tusk_common.service import ServiceContext
from tusk_common.store import ChunkStore, ObjectStore, StoreMetrics, open_object_store
from tusk_ingest.adapters.versioning import VersioningClient
from tusk_ingest.auth import AllowAll, AnonymousAuthenticator
from tusk_ingest.entrypoints.http.app import make_app
from tusk_ingest.entrypoints.http.errors import StreamAborted
from tusk_ingest.entrypoints.http.observe import HttpMetrics
from tusk_ingest.entrypoints.http.state import Deps, Handler
from tusk_ingest.s3 import Credentials, GatewayConfig, StaticCredentials, add_s3_routes
from tusk_ingest.s3.commit_groups import CommitGroups
from tusk_ingest.s3.errors import AccessDenied
from tusk_ingest.s3.request import StreamAborted as S3StreamAborted
from tusk_ingest.s3.tusk_driver import TuskDriver
from tusk_ingest.s3.tusk_uploads import UploadRecords
from tusk_ingest.settings import IngestSettings
from tusk_ingest.uploads import Uploads

log = structlog.get_logger(__name__)

_READY_PROBE_KEY = "readyz/probe"


@dataclass(frozen=True, slots=True)
class Ingest:
    """A running ingest service: where it listens and what it is made of (tests use this)."""

    url: str
    host: str
    port: int
    app: web.Application
    deps: Deps
    s3: S3Parts


def ingest_settings(settings: object) -> IngestSettings:
    """The service's settings; a plain `ServiceSettings` gets the ingest defaults added."""
    if isinstance(settings, IngestSettings):
        return settings
    fields = {k: getattr(settings, k) for k in ("nats", "database", "store", "s3", "ops")}
    return IngestSettings(**fields)


async def build(ctx: ServiceContext) -> Ingest:
    """Connect everything and open the public port; `ctx.stack` closes it all in reverse order."""
    settings = ingest_settings(ctx.settings)
    bus = await Bus.connect(settings.nats, name=f"tusk-{ctx.name}", registry=ctx.registry)
    ctx.stack.push_async_callback(bus.close)
    backend = await open_object_store(settings.store, settings.s3)
    ctx.stack.push_async_callback(backend.close)
    store = ChunkStore(backend, settings.store, StoreMetrics(ctx.registry))
    versioning = VersioningClient(bus)
    deps = Deps(
        settings=settings,
        versioning=versioning,
        store=store,
        uploads=Uploads(versioning, store, settings),
        authenticator=AnonymousAuthenticator(),
        authorizer=AllowAll(),
        metrics=HttpMetrics(ctx.registry),
    )
    gateway = s3_gateway(settings, versioning, store, backend)
    app = make_app(deps)
    app.middlewares.append(_s3_stream_aborted)
    api = app.router.add_resource("/api/{tail:.*}")  # all of /api/ stays the REST API's, even unknown paths
    api.add_route("*", _api_fallback)
    add_s3_routes(app, gateway.driver, gateway.credentials, config=gateway.config)
    if gateway.groups is not None:
        ctx.spawn(gateway.groups.run(ctx.stopping), name="s3-commit-groups")
    runner = web.AppRunner(
        app, access_log=None, shutdown_timeout=settings.shutdown_timeout,
        keepalive_timeout=settings.http_keepalive_timeout,
    )
    await runner.setup()
    ctx.stack.push_async_callback(runner.cleanup)  # closed first: stop taking requests, then drain
    site = web.TCPSite(runner, settings.http_host, settings.http_port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        raise Unavailable(f"cannot listen on {settings.http_addr}: {exc}") from exc
    host, port = runner.addresses[0][:2]

    async def nats_ready() -> None:
        if not bus.nc.is_connected:
            raise Unavailable("NATS is not connected")

    async def store_ready() -> None:
        await backend.exists(_READY_PROBE_KEY)

    ctx.add_readiness("nats", nats_ready)
    ctx.add_readiness("store", store_ready)
    url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    log.info("ingest.listening", url=url, api=f"{url}/api/v1", s3=url, s3_auth=gateway.auth_mode)
    return Ingest(url=url, host=host, port=port, app=app, deps=deps, s3=gateway)


@dataclass(frozen=True, slots=True)
class S3Parts:
    """The S3 gateway's pieces, as the composition root wires them."""

    driver: TuskDriver
    credentials: Credentials | None
    config: GatewayConfig
    groups: CommitGroups | None
    auth_mode: str  # "keys", "anonymous" or "refused"


class _NoKeys:
    """Credentials when no gateway key is configured and anonymous access is off: refuse everything."""

    async def secret_key(self, access_key: str) -> str | None:
        raise AccessDenied(
            "the S3 gateway has no access keys: set TUSK_S3_GATEWAY_ACCESS_KEY and TUSK_S3_GATEWAY_SECRET_KEY"
            " (or TUSK_S3_GATEWAY_ALLOW_ANONYMOUS=true)"
        )


def s3_gateway(settings: IngestSettings, versioning: VersioningClient, store: ChunkStore,
               backend: ObjectStore) -> S3Parts:
    """The driver over versioning and the chunk store, the keys, and the commit groups' finisher."""
    groups = CommitGroups(versioning, backend, scan_interval=settings.s3_gateway_group_scan_seconds)
    uploads = UploadRecords(backend, settings.s3_gateway_upload_expiry)
    driver = TuskDriver(versioning, store, uploads, groups=groups, max_object_bytes=settings.max_upload_bytes)
    access = settings.s3_gateway_access_key.get_secret_value() if settings.s3_gateway_access_key else ""
    secret = settings.s3_gateway_secret_key.get_secret_value() if settings.s3_gateway_secret_key else ""
    credentials: Credentials | None
    if access and secret:
        credentials, mode = StaticCredentials({access: secret}), "keys"
    elif settings.s3_gateway_allow_anonymous:
        credentials, mode = None, "anonymous"
    else:
        credentials, mode = _NoKeys(), "refused"
    config = GatewayConfig(region=settings.s3_gateway_region, base_domain=settings.s3_gateway_base_domain)
    return S3Parts(driver, credentials, config, groups, mode)


async def _api_fallback(request: web.Request) -> web.StreamResponse:
    """An `/api/...` request no API route took: 405 when the path exists with other methods, else 404
    (so an unknown API path is never mistaken for the S3 bucket `api`)."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is request.match_info.route.resource:
            break
        _match, methods = await resource.resolve(request)
        allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


@web.middleware
async def _s3_stream_aborted(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An S3 reply that failed after its headers went out must cut the connection, not get a JSON
    error appended (the errors middleware, outside this one, re-raises the HTTP layer's StreamAborted)."""
    try:
        return await handler(request)
    except S3StreamAborted as exc:
        raise StreamAborted(str(exc), status=200) from exc
