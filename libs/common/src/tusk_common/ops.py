"""The ops port of a service: `/metrics` (Prometheus), `/healthz` (alive), `/readyz` (dependencies up)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ReadinessCheck = Callable[[], Awaitable[None]]


class OpsServer:
    """Serves the ops endpoints on `host:port` (port 0 picks a free one; `.port` tells which)."""

    def __init__(self, registry: CollectorRegistry, checks: dict[str, ReadinessCheck]) -> None:
        self._registry = registry
        self._checks = checks
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

    async def _metrics(self, _: web.Request) -> web.Response:
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
