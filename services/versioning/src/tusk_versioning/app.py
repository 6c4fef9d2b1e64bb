"""Composition root: builds every client of the versioning service and starts serving RPCs."""

from __future__ import annotations

from tusk_common.backlog import OutboxBacklog
from tusk_common.db import Migration, load_migrations
from tusk_common.outbox import OutboxRelay, outbox_migration
from tusk_common.service import ServiceContext
from tusk_versioning.adapters.nodestore import NodeCache
from tusk_versioning.adapters.waiters import CommitWaiters
from tusk_versioning.deps import Deps
from tusk_versioning.entrypoints.rpc import handlers
from tusk_versioning.metrics import VersioningMetrics
from tusk_versioning.settings import VersioningSettings
from tusk_versioning.views import Views

NAME = "versioning"


def migrations() -> list[Migration]:
    # The outbox has a version of its own, far from the service's (it once came right after them: data
    # dirs of then have it under 2 or 3, which `migrate` renumbers by name).
    return [*load_migrations("tusk_versioning.migrations"), outbox_migration(1000)]


async def build(ctx: ServiceContext) -> Deps:
    """Open Postgres (migrated) and NATS, start the outbox relay and the commit waiters, serve RPCs."""
    settings = ctx.settings
    if not isinstance(settings, VersioningSettings):
        settings = VersioningSettings.model_validate(settings.model_dump())
    schema = settings.schema_name
    pool = await ctx.open_postgres(settings.database, schema=schema, migrations=migrations())
    bus = await ctx.open_bus(settings.nats)

    waiters = CommitWaiters(pool)
    await waiters.start()
    ctx.stack.push_async_callback(waiters.stop)

    relay = OutboxRelay(pool, bus)
    ctx.spawn(relay.run(ctx.stopping), name="outbox-relay")
    ctx.on_scrape(OutboxBacklog(ctx.registry, pool).refresh)

    deps = Deps(pool=pool, views=Views(NodeCache(settings.node_cache_bytes), settings.open_views),
                waiters=waiters, settings=settings)  # fmt: skip
    await bus.serve(VersioningMetrics(ctx.registry).instrument(handlers(deps)))
    return deps
