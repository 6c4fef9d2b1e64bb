"""The outbox: events written with the state they announce; none lost while NATS is down."""

from __future__ import annotations

import asyncio

import asyncpg
from pydantic import SecretStr

from tusk_common.bus import Bus
from tusk_common.db import Migration, create_pool, migrate
from tusk_common.events import CloudEvent, RepoCreated
from tusk_common.outbox import OutboxRelay, enqueue, outbox_migration
from tusk_common.settings import DatabaseSettings, NatsSettings


async def _pool(database_url: str) -> asyncpg.Pool:
    pool = await create_pool(DatabaseSettings(url=SecretStr(database_url)), schema="svc")
    await migrate(pool, schema="svc", migrations=[
        Migration(1, "things", "CREATE TABLE things (name text PRIMARY KEY)"), outbox_migration(2),
    ])
    return pool


async def _collect(bus: Bus, n: int, durable: str) -> list[CloudEvent]:
    seen: list[CloudEvent] = []
    stopping = asyncio.Event()

    async def handler(ce: CloudEvent) -> None:
        seen.append(ce)
        if len(seen) >= n:
            stopping.set()

    await asyncio.wait_for(bus.consume_events(durable, handler, stopping=stopping), 20)
    return seen


async def test_migrations_apply_once_and_record_their_versions(database_url):
    pool = await _pool(database_url)
    again = await migrate(pool, schema="svc", migrations=[outbox_migration(2)])
    assert again == []
    versions = [r["version"] for r in await pool.fetch("SELECT version FROM svc.schema_migrations ORDER BY 1")]
    assert versions == [1, 2]
    await pool.close()


async def test_rolled_back_transaction_leaves_no_event(database_url):
    pool = await _pool(database_url)
    try:
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await conn.execute("INSERT INTO things VALUES ('x')")
            await enqueue(conn, RepoCreated(repo="x"), source="test")
            await tx.rollback()
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await pool.close()


async def test_no_event_is_lost_when_nats_is_down_while_state_changes(database_url, nats_server):
    pool = await _pool(database_url)
    bus = await Bus.connect(NatsSettings(url=nats_server.url), name="relay")
    await bus.ensure_streams()
    relay = OutboxRelay(pool, bus, poll_interval=0.1, retry_delay=0.1)
    stopping = asyncio.Event()
    task = asyncio.create_task(relay.run(stopping))
    try:
        nats_server.stop()
        for name in ("a", "b", "c"):
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("INSERT INTO things VALUES ($1)", name)
                await enqueue(conn, RepoCreated(repo=name), source="test")
        await asyncio.sleep(0.3)  # the relay tries and fails while NATS is down
        assert await relay.backlog() == 3
        nats_server.start()
        seen = await _collect(bus, 3, "outbox-test")
        assert sorted(ce.data["repo"] for ce in seen) == ["a", "b", "c"]
        for _ in range(100):
            if await relay.backlog() == 0:
                break
            await asyncio.sleep(0.05)
        assert await relay.backlog() == 0
        info = await bus.js.stream_info("TUSK_EVENTS")
        assert info.state.messages == 3
    finally:
        stopping.set()
        await task
        await bus.close()
        await pool.close()


async def test_a_renumbered_migration_is_not_applied_again_and_the_new_one_in_its_place_is(database_url):
    # A schema from a release where the outbox came right after the service's first migration ...
    pool = await create_pool(DatabaseSettings(url=SecretStr(database_url)), schema="upgraded")
    try:
        first = Migration(1, "things", "CREATE TABLE things (name text PRIMARY KEY)")
        assert await migrate(pool, schema="upgraded", migrations=[first, outbox_migration(2)]) == [1, 2]
        await pool.execute("INSERT INTO outbox (event_id, subject, payload, headers)"
                           " VALUES ('e1', 's', '{}'::jsonb, '{}'::jsonb)")
        # ... upgraded to one with a second migration, the outbox moved to 1000.
        second = Migration(2, "colour", "ALTER TABLE things ADD COLUMN colour text")
        applied = await migrate(pool, schema="upgraded", migrations=[first, second, outbox_migration(1000)])
        assert applied == [2]
        rows = await pool.fetch("SELECT version, name FROM upgraded.schema_migrations ORDER BY 1")
        assert [(r["version"], r["name"]) for r in rows] == [(1, "things"), (2, "colour"), (1000, "outbox")]
        await pool.execute("INSERT INTO things (name, colour) VALUES ('x', 'red')")
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 1  # kept, not re-created
        assert await migrate(pool, schema="upgraded", migrations=[first, second, outbox_migration(1000)]) == []
    finally:
        await pool.close()
