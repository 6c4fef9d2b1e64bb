"""The ops port of a service: `/metrics` (Prometheus), `/healthz` (alive), `/readyz` (dependencies up)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import cast

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ReadinessCheck = Callable[[], Awaitable[None]]
# Sets gauges that mirror state outside the process (Postgres rows, JetStream consumers) before a scrape.
MetricsRefresh = Callable[[], Awaitable[None]]

log = structlog.get_logger(__name__)


class OpsServer:
    """Serves the ops endpoints on `host:port` (port 0 picks a free one; `.port` tells which).

    Before `/metrics` answers, the `refreshers` run (concurrently, bounded by `refresh_timeout`), at most
    once per `max_age` seconds however many Prometheus servers scrape; one that fails leaves its gauges
    at their last values.
    """

    def __init__(self, registry: CollectorRegistry, checks: dict[str, ReadinessCheck],
                 refreshers: list[MetricsRefresh] | None = None, *, max_age: float = 2.0,
                 refresh_timeout: float = 5.0) -> None:  # fmt: skip
        self._registry = registry
        self._checks = checks
        self._refreshers = refreshers if refreshers is not None else []
        self._max_age = max_age
        self._refresh_timeout = refresh_timeout
        self._refresh_lock = asyncio.Lock()
        self._refreshed_at: float | None = None
        self._runner: web.AppRunner | None = None
        self.host = ""
        self.port = 0

    async def start(self, addr: str) -> None:
        host, _, port = addr.rpartition(":")
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host or "127.0.0.1", int(port or 0))
        await site.start()
        server = cast("asyncio.Server | None", site._server)
        sockets = server.sockets if server is not None else []
        self.host, self.port = sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def refresh(self) -> None:
        """Run the refreshers unless they ran less than `max_age` seconds ago."""
        if not self._refreshers:
            return
        async with self._refresh_lock:
            now = time.monotonic()
            if self._refreshed_at is not None and now - self._refreshed_at < self._max_age:
                return
            results = await asyncio.wait_for(
                asyncio.gather(*(r() for r in self._refreshers), return_exceptions=True),
                timeout=self._refresh_timeout,
            )
            for refresher, result in zip(self._refreshers, results, strict=True):
                if isinstance(result, BaseException):
                    log.warning("metrics.refresh_failed", refresher=getattr(refresher, "__qualname__", "?"),
                                error=repr(result))  # fmt: skip
            self._refreshed_at = time.monotonic()

    async def _metrics(self, _: web.Request) -> web.Response:
        try:
            await self.refresh()
        except TimeoutError:
            log.warning("metrics.refresh_timeout", timeout=self._refresh_timeout)
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _: web.Request) -> web.Response:
        failures: dict[str, str] = {}
        for name, check in self._checks.items():
            try:
                await asyncio.wait_for(check(), timeout=2.0)
            except Exception as exc:
                failures[name] = f"{type(exc).__name__}: {exc}"
        if failures:
            return web.json_response({"status": "unready", "failures": failures}, status=503)
        return web.json_response({"status": "ready", "checks": sorted(self._checks)})
