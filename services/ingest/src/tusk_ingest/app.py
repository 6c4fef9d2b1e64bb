"""Composition root of the ingest service: bus, chunk store, versioning client, the public HTTP port."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiohttp import web

from tusk_common.bus import Bus
from tusk_common.errors import Unavailable
from tusk_common.service import ServiceContext
from tusk_common.store import ChunkStore, StoreMetrics, open_object_store
from tusk_ingest.adapters.versioning import VersioningClient
from tusk_ingest.auth import AllowAll, AnonymousAuthenticator
from tusk_ingest.entrypoints.http.app import make_app
from tusk_ingest.entrypoints.http.observe import HttpMetrics
from tusk_ingest.entrypoints.http.state import Deps
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
    app = make_app(deps)
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
    log.info("ingest.listening", url=url, api=f"{url}/api/v1")
    return Ingest(url=url, host=host, port=port, app=app, deps=deps)
