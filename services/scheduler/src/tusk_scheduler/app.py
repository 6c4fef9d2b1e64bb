"""Composition root of the scheduler: Postgres (migrated), NATS, the chunk store, consumers, loops, RPCs."""

from __future__ import annotations

from dataclasses import dataclass

from tusk_common.db import Migration, load_migrations
from tusk_common.outbox import OutboxRelay, outbox_migration
from tusk_common.service import ServiceContext
from tusk_common.store import ChunkStore, StoreMetrics, open_object_store
from tusk_scheduler.adapters.secretbox import SecretBox
from tusk_scheduler.adapters.tasks import TaskQueue
from tusk_scheduler.adapters.versioning import Versioning
from tusk_scheduler.cron import CronTicker
from tusk_scheduler.deps import Deps
from tusk_scheduler.driver import Driver, Sweeper
from tusk_scheduler.entrypoints import consumers
from tusk_scheduler.entrypoints.rpc import handlers
from tusk_scheduler.metrics import SchedulerMetrics
from tusk_scheduler.pipelines import sync_repo_users
from tusk_scheduler.settings import SchedulerSettings

NAME = "scheduler"


def migrations() -> list[Migration]:
    own = load_migrations("tusk_scheduler.migrations")
    return [*own, outbox_migration(1000)]


@dataclass
class Scheduler:
    """What `build` made (tests reach in to wait for the driver or to sweep at once)."""

    deps: Deps
    driver: Driver
    sweeper: Sweeper
    cron: CronTicker


async def build(ctx: ServiceContext) -> Scheduler:
    settings = ctx.settings
    if not isinstance(settings, SchedulerSettings):
        settings = SchedulerSettings.model_validate(settings.model_dump())
    schema = settings.schema_name
    pool = await ctx.open_postgres(settings.database, schema=schema, migrations=migrations())
    bus = await ctx.open_bus(settings.nats)

    backend = await open_object_store(settings.store, settings.s3)
    ctx.stack.push_async_callback(backend.close)
    store = ChunkStore(backend, settings.store, StoreMetrics(ctx.registry))

    deps = Deps(
        settings=settings, pool=pool, bus=bus,
        versioning=Versioning(bus, timeout=settings.rpc_timeout, page=settings.list_page),
        tasks=TaskQueue(bus, ack_wait=settings.datum_ack_wait), store=store, box=SecretBox(settings.secret_key),
    )  # fmt: skip
    deps.metrics = SchedulerMetrics(ctx.registry, pool, bus,
                                    durables=[consumers.COMMITS_DURABLE, consumers.DATUMS_DURABLE])  # fmt: skip
    ctx.on_scrape(deps.metrics.refresh)
    driver = Driver(deps)
    deps.kick = driver.kick
    ctx.stack.push_async_callback(driver.close)
    sweeper = Sweeper(deps, driver)
    cron = CronTicker(deps)

    ctx.spawn(OutboxRelay(pool, bus).run(ctx.stopping), name="outbox-relay")
    ctx.spawn(
        bus.consume_events(consumers.COMMITS_DURABLE, consumers.on_commit(deps), kinds=["commit.finished"],
                           stopping=ctx.stopping, batch=64),
        name="commits-consumer",
    )  # fmt: skip
    # One puller takes every datum result waiting (up to datum_batch) and settles each job's in one
    # transaction: a burst of small datums costs a transaction per fetch, not per datum.
    ctx.spawn(
        bus.consume_event_batches(consumers.DATUMS_DURABLE, consumers.on_datums(deps), consumers.on_datum(deps),
                                  kinds=["datum.done", "datum.failed"], stopping=ctx.stopping,
                                  batch=settings.datum_batch),
        name="datums-consumer",
    )  # fmt: skip
    ctx.spawn(sweeper.run(ctx.stopping), name="sweeper")
    ctx.spawn(cron.run(ctx.stopping), name="cron")
    ctx.spawn(sync_repo_users(deps, ctx.stopping), name="repo-users-sync")
    await bus.serve(handlers(deps))
    return Scheduler(deps, driver, sweeper, cron)
