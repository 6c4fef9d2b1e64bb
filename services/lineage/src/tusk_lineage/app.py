"""Composition root of the lineage service: Postgres (migrated), NATS, the chunk store, the consumer,
the outbox and OpenLineage relays, and the RPCs; `rebuild_main` for `tusk-lineage rebuild`."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from tusk_common.backlog import ConsumerLag, OutboxBacklog
from tusk_common.bus import Bus
from tusk_common.db import Migration, create_pool, load_migrations, migrate
from tusk_common.errors import TuskError
from tusk_common.logs import setup_logging
from tusk_common.outbox import OutboxRelay, outbox_migration
from tusk_common.service import ServiceContext, tusk_version
from tusk_common.store import ChunkStore, StoreMetrics, open_object_store
from tusk_common.subjects import EVENTS_STREAM
from tusk_lineage import rebuild
from tusk_lineage.adapters.openlineage import OpenLineageRelay
from tusk_lineage.adapters.sources import Sources
from tusk_lineage.deps import Deps
from tusk_lineage.domain.openlineage import Emitter
from tusk_lineage.entrypoints.consumer import consume
from tusk_lineage.entrypoints.rpc import handlers
from tusk_lineage.projector import Projector
from tusk_lineage.settings import LineageSettings

NAME = "lineage"
PRODUCER = "https://github.com/tusk-dev/tusk/tree/v{version}/services/lineage"


def migrations() -> list[Migration]:
    return [*load_migrations("tusk_lineage.migrations"), outbox_migration(1000)]


def lineage_settings(settings: object) -> LineageSettings:
    if isinstance(settings, LineageSettings):
        return settings
    return LineageSettings.model_validate(settings.model_dump())  # type: ignore[attr-defined]


@dataclass
class Lineage:
    """What `build` made (tests reach in)."""

    deps: Deps
    bus: Bus
    projector: Projector
    relay: OpenLineageRelay | None


async def open_deps(settings: LineageSettings, stack: AsyncExitStack, registry: CollectorRegistry | None = None,
                    name: str = NAME) -> tuple[Deps, Bus]:  # fmt: skip
    """Postgres (migrated), NATS and the chunk store, closed by `stack` in reverse order."""
    schema = settings.schema_name
    pool = await create_pool(settings.database, schema=schema)
    stack.push_async_callback(pool.close)
    await migrate(pool, schema=schema, migrations=migrations())
    bus = await Bus.connect(settings.nats, name=name, registry=registry)
    stack.push_async_callback(bus.close)
    await bus.ensure_streams()
    backend = await open_object_store(settings.store, settings.s3)
    stack.push_async_callback(backend.close)
    store = ChunkStore(backend, settings.store, StoreMetrics(registry) if registry is not None else None)
    sources = Sources(bus, store, timeout=settings.rpc_timeout, page=settings.list_page,
                      cache=settings.listing_cache, concurrency=settings.lookups)  # fmt: skip
    emitter = None
    if settings.openlineage_url:
        emitter = Emitter(settings.openlineage_namespace, PRODUCER.format(version=tusk_version()))
    return Deps(pool=pool, sources=sources, settings=settings, emitter=emitter), bus


async def build(ctx: ServiceContext) -> Lineage:
    settings = lineage_settings(ctx.settings)
    deps, bus = await open_deps(settings, ctx.stack, ctx.registry, ctx.name)
    projector = Projector(deps)
    ctx.spawn(OutboxRelay(deps.pool, bus).run(ctx.stopping), name="outbox-relay")
    ctx.on_scrape(OutboxBacklog(ctx.registry, deps.pool).refresh)
    ctx.on_scrape(ConsumerLag(ctx.registry, bus, durables=[(EVENTS_STREAM, settings.durable)]).refresh)
    relay = None
    if settings.openlineage_url:
        relay = OpenLineageRelay(
            deps.pool, url=settings.openlineage_url, endpoint=settings.openlineage_endpoint,
            api_key=settings.openlineage_api_key, timeout=settings.openlineage_timeout,
            retries=settings.openlineage_retries, backoff=settings.openlineage_backoff, registry=ctx.registry,
        )  # fmt: skip
        ctx.spawn(relay.run(ctx.stopping), name="openlineage-relay")
    ctx.spawn(consume(bus, projector, settings, ctx.stopping), name="events-consumer")
    await bus.serve(handlers(deps))

    async def postgres_ready() -> None:
        await deps.pool.fetchval("SELECT 1")

    async def nats_ready() -> None:
        if not bus.nc.is_connected:
            raise ConnectionError("not connected to NATS")

    ctx.add_readiness("postgres", postgres_ready)
    ctx.add_readiness("nats", nats_ready)
    return Lineage(deps, bus, projector, relay)


async def _rebuild_once(settings: LineageSettings) -> dict[str, object]:
    async with AsyncExitStack() as stack:
        deps, bus = await open_deps(settings, stack, name="lineage-rebuild")
        report = await rebuild.rebuild(deps)
        # The `lineage.updated` it queued goes out now (a running service's relay would send it too).
        await OutboxRelay(deps.pool, bus).drain_once()
        return report.model_dump()


def rebuild_main(argv: list[str]) -> int:
    """`tusk-lineage rebuild`: drop the graph and rebuild it from versioning and the scheduler."""
    if argv:
        print("usage: tusk-lineage rebuild", file=sys.stderr)
        return 2
    settings = LineageSettings()
    setup_logging(NAME, level=settings.ops.log_level, fmt=settings.ops.log_format)
    try:
        report = asyncio.run(_rebuild_once(settings))
    except TuskError as exc:
        print(f"tusk-lineage: error: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0
