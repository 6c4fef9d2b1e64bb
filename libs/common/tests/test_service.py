"""The shared service lifecycle: ops endpoints, readiness, background tasks and ordered shutdown."""

from __future__ import annotations

import asyncio

import aiohttp

from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import OpsSettings, ServiceSettings


async def test_ops_port_serves_health_readiness_and_build_info():
    ready = {"db": True}
    closed: list[str] = []

    async def check() -> None:
        if not ready["db"]:
            raise ConnectionError("db down")

    async def build(ctx: ServiceContext) -> None:
        ctx.add_readiness("db", check)
        ctx.stack.push_async_callback(_record, closed, "client")

    settings = ServiceSettings(ops=OpsSettings(ops_addr="127.0.0.1:0"))
    async with running_service("demo", settings, build) as (_ctx, ops), aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{ops.port}"
        async with http.get(f"{base}/healthz") as r:
            assert r.status == 200
        async with http.get(f"{base}/readyz") as r:
            assert r.status == 200 and (await r.json())["checks"] == ["db"]
        ready["db"] = False
        async with http.get(f"{base}/readyz") as r:
            body = await r.json()
            assert r.status == 503 and "db down" in body["failures"]["db"]
        async with http.get(f"{base}/metrics") as r:
            text = await r.text()
            assert 'tusk_build_info{service="demo"' in text
    assert closed == ["client"]


async def test_a_crashing_background_task_stops_the_service_and_draining_waits_for_loops():
    finished: list[str] = []

    async def loop_until_stopped(ctx: ServiceContext) -> None:
        await ctx.stopping.wait()
        finished.append("drained")

    async def crash() -> None:
        raise RuntimeError("boom")

    async def build(ctx: ServiceContext) -> None:
        ctx.spawn(loop_until_stopped(ctx), "loop")
        ctx.spawn(crash(), "crash")

    settings = ServiceSettings(ops=OpsSettings(ops_addr="127.0.0.1:0"))
    async with running_service("demo", settings, build) as (ctx, _ops):
        await asyncio.wait_for(ctx.stopping.wait(), 5)
    assert finished == ["drained"]


async def _record(log: list[str], item: str) -> None:
    log.append(item)
