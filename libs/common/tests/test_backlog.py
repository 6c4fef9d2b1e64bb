"""Gauges of waiting work read at scrape time: the outbox backlog and JetStream consumer lag, and the ops
port running its refreshers before `/metrics` answers."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
from nats.js.api import AckPolicy, ConsumerConfig
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from tusk_common.backlog import ConsumerLag, OutboxBacklog
from tusk_common.db import create_pool, migrate
from tusk_common.events import RepoCreated
from tusk_common.outbox import enqueue, outbox_migration
from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import DatabaseSettings, OpsSettings, ServiceSettings
from tusk_common.subjects import DATUMS_PREFIX, DATUMS_STREAM, EVENTS_STREAM


async def _pool(database_url: str) -> asyncpg.Pool:
    pool = await create_pool(DatabaseSettings(url=SecretStr(database_url)), schema="svc")
    await migrate(pool, schema="svc", migrations=[outbox_migration(1)])
    return pool


async def test_outbox_backlog_counts_unsent_rows_and_the_age_of_the_oldest(database_url):
    registry = CollectorRegistry()
    pool = await _pool(database_url)
    try:
        backlog = OutboxBacklog(registry, pool)
        await backlog.refresh()
        assert registry.get_sample_value("tusk_outbox_backlog") == 0
        assert registry.get_sample_value("tusk_outbox_oldest_seconds") == 0
        async with pool.acquire() as conn, conn.transaction():
            for name in ("a", "b", "c"):
                await enqueue(conn, RepoCreated(repo=name), source="test")
        await pool.execute("UPDATE outbox SET created_at = now() - interval '90 seconds' WHERE payload->'data'->>'repo' = 'a'")
        await backlog.refresh()
        assert registry.get_sample_value("tusk_outbox_backlog") == 3
        assert 89 < registry.get_sample_value("tusk_outbox_oldest_seconds") < 120
    finally:
        await pool.close()


async def test_consumer_lag_counts_pending_and_unacknowledged_messages_and_forgets_deleted_consumers(bus):
    registry = CollectorRegistry()
    await bus.js.add_consumer(EVENTS_STREAM, ConsumerConfig(durable_name="lag-test", ack_policy=AckPolicy.EXPLICIT))
    for pipeline in ("p1", "p2"):
        await bus.js.add_consumer(DATUMS_STREAM, ConsumerConfig(
            durable_name=f"tusk-worker-{pipeline}", filter_subject=f"{DATUMS_PREFIX}.{pipeline}",
            ack_policy=AckPolicy.EXPLICIT))  # fmt: skip
    lag = ConsumerLag(registry, bus, durables=[(EVENTS_STREAM, "lag-test"), (EVENTS_STREAM, "not-made-yet")],
                      prefixes=[(DATUMS_STREAM, "tusk-worker-")])  # fmt: skip

    def value(stream: str, consumer: str) -> float | None:
        return registry.get_sample_value("tusk_consumer_lag", {"stream": stream, "consumer": consumer})

    for name in ("a", "b", "c"):
        await bus.publish_event(RepoCreated(repo=name), source="test")
    for i in range(4):
        await bus.publish(f"{DATUMS_PREFIX}.p1", b"task", msg_id=f"t{i}")
    await lag.refresh()
    assert value(EVENTS_STREAM, "lag-test") == 3
    assert value(EVENTS_STREAM, "not-made-yet") is None
    assert (value(DATUMS_STREAM, "tusk-worker-p1"), value(DATUMS_STREAM, "tusk-worker-p2")) == (4, 0)

    sub = await bus.js.pull_subscribe_bind("lag-test", stream=EVENTS_STREAM)
    (first,) = await sub.fetch(1, timeout=5)
    await lag.refresh()
    assert value(EVENTS_STREAM, "lag-test") == 3, "a message in flight is not processed yet"
    await first.ack_sync()
    await lag.refresh()
    assert value(EVENTS_STREAM, "lag-test") == 2

    await bus.js.delete_consumer(DATUMS_STREAM, "tusk-worker-p2")
    await lag.refresh()
    assert value(DATUMS_STREAM, "tusk-worker-p2") is None
    assert value(DATUMS_STREAM, "tusk-worker-p1") == 4


async def test_metrics_refreshers_run_before_a_scrape_at_most_once_per_max_age():
    calls: list[str] = []

    async def counting() -> None:
        calls.append("refresh")

    async def failing() -> None:
        raise ConnectionError("postgres is down")

    async def build(ctx: ServiceContext) -> None:
        ctx.on_scrape(counting)
        ctx.on_scrape(failing)

    settings = ServiceSettings(ops=OpsSettings(ops_addr="127.0.0.1:0", metrics_max_age=0.5))
    async with running_service("demo", settings, build) as (_ctx, ops), aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{ops.port}/metrics"
        texts = await asyncio.gather(*(_get(http, url) for _ in range(5)))
        assert all('tusk_build_info{service="demo"' in t for t in texts), "a failing refresher spoils nothing"
        assert calls == ["refresh"], "concurrent scrapes share one refresh"
        await asyncio.sleep(0.6)
        await _get(http, url)
        assert calls == ["refresh", "refresh"]


async def _get(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as r:
        assert r.status == 200
        return await r.text()
