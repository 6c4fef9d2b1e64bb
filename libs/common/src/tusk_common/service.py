"""`run_service`: the one lifecycle every Tusk service process shares.

Logging, the ops server, SIGTERM/SIGINT handling and an ordered shutdown: a signal sets `stopping`, the
service stops taking work and drains, and the `AsyncExitStack` closes clients in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import asyncpg
import structlog
from prometheus_client import CollectorRegistry, Gauge

from tusk_common.bus import Bus
from tusk_common.db import Migration, create_pool, migrate
from tusk_common.errors import TuskError
from tusk_common.logs import setup_logging
from tusk_common.ops import MetricsRefresh, OpsServer, ReadinessCheck
from tusk_common.settings import DatabaseSettings, NatsSettings, ServiceSettings
from tusk_common.tracing import setup_tracing

log = structlog.get_logger(__name__)
S = TypeVar("S", bound=ServiceSettings)


def tusk_version() -> str:
    try:
        return version("tusk-common")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


@dataclass
class ServiceContext:
    """What `build` gets: the settings and the shared lifecycle of one service process."""

    name: str
    settings: Any
    registry: CollectorRegistry
    stack: AsyncExitStack
    stopping: asyncio.Event
    checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    refreshers: list[MetricsRefresh] = field(default_factory=list)

    def add_readiness(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check

    def on_scrape(self, refresh: MetricsRefresh) -> None:
        """Run `refresh` (cheap reads setting gauges) before `/metrics` answers, at most once per
        `TUSK_METRICS_MAX_AGE` seconds."""
        self.refreshers.append(refresh)

    async def open_postgres(
        self, settings: DatabaseSettings, *, schema: str, migrations: Sequence[Migration]
    ) -> asyncpg.Pool:
        """The service's pool on its own schema, migrated, closed at shutdown, checked by /readyz."""
        pool = await create_pool(settings, schema=schema)
        self.stack.push_async_callback(pool.close)
        await migrate(pool, schema=schema, migrations=migrations)

        async def ready() -> None:
            await pool.fetchval("SELECT 1")

        self.add_readiness("postgres", ready)
        return pool

    async def open_bus(self, settings: NatsSettings) -> Bus:
        """The service's NATS connection with the streams declared, closed at shutdown, checked by /readyz."""
        bus = await Bus.connect(settings, name=self.name, registry=self.registry)
        self.stack.push_async_callback(bus.close)
        await bus.ensure_streams()

        async def ready() -> None:
            if not bus.nc.is_connected:
                raise ConnectionError("not connected to NATS")

        self.add_readiness("nats", ready)
        return bus

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a background loop for the service's lifetime; its crash stops the service."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("service.task_crashed", task=task.get_name(), error=repr(exc))
            self.stopping.set()


Build = Callable[[ServiceContext], Awaitable[Any]]


@contextlib.asynccontextmanager
async def running_service(name: str, settings: ServiceSettings, build: Build,
                          *, stopping: asyncio.Event | None = None
                          ) -> AsyncIterator[tuple[ServiceContext, OpsServer]]:
    """Build a service and serve its ops port; on exit drain and close everything (tests use this too)."""
    registry = CollectorRegistry()
    Gauge("tusk_build_info", "Build of this Tusk service", ["service", "version"], registry=registry).labels(
        service=name, version=tusk_version()
    ).set(1)
    ctx = ServiceContext(name, settings, registry, AsyncExitStack(), stopping or asyncio.Event())
    ops = OpsServer(registry, ctx.checks, ctx.refreshers, max_age=settings.ops.metrics_max_age,
                    refresh_timeout=settings.ops.metrics_refresh_timeout)  # fmt: skip
    async with ctx.stack:
        await build(ctx)
        await ops.start(settings.ops.ops_addr)
        ctx.stack.push_async_callback(ops.stop)
        log.info("service.ready", ops=f"{ops.host}:{ops.port}")
        try:
            yield ctx, ops
        finally:
            ctx.stopping.set()
            if ctx.tasks:
                _, pending = await asyncio.wait(list(ctx.tasks), timeout=settings.ops.shutdown_grace)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)


async def run_service(name: str, settings: ServiceSettings, build: Build) -> None:
    """Run until SIGTERM/SIGINT or until a background task crashes."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    async with running_service(name, settings, build, stopping=stopping):
        await stopping.wait()
        log.info("service.stopping")


def main(name: str, settings_cls: type[S], build: Build) -> None:
    """Console-script entry point of a service."""
    settings = settings_cls()
    setup_logging(name, level=settings.ops.log_level, fmt=settings.ops.log_format)
    provider = setup_tracing(name)
    try:
        asyncio.run(run_service(name, settings, build))
    except TuskError as exc:
        log.error("service.failed", error=exc.message)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        if provider is not None:
            provider.shutdown()
