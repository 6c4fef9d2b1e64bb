"""The Postgres node store: batched reads, the cache, and hash checks on what comes back."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tusk_common.db import create_pool, migrate
from tusk_common.errors import Corrupted
from tusk_common.settings import DatabaseSettings
from tusk_versioning.adapters.nodestore import NodeCache, PgNodes, save_nodes
from tusk_versioning.app import migrations
from tusk_versioning.domain.nodes import Entry, NodeBatch, build_dir


@pytest.fixture
async def pool(database_url):
    pool = await create_pool(DatabaseSettings(url=SecretStr(database_url)), schema="versioning")
    await migrate(pool, schema="versioning", migrations=migrations())
    try:
        yield pool
    finally:
        await pool.close()


async def test_nodes_round_trip_through_postgres_and_the_cache(pool):
    batch = NodeBatch()
    h, _ = build_dir([Entry(f"f{i:05d}", "file", f"c{i}", 1, 1) for i in range(2000)], batch)
    async with pool.acquire() as conn:
        await save_nodes(conn, NodeCache(0), batch)  # a cache too small to keep anything
        cache = NodeCache(64 * 1024**2)
        reader = PgNodes(cache, conn)
        nodes = await reader.get_many(list(batch))
        assert cache.stats.fetched == len(batch)
        assert await reader.get(h) is nodes[list(batch).index(h)]
        assert cache.stats.fetched == len(batch)  # served from the cache


async def test_a_damaged_or_missing_node_is_corrupted(pool):
    batch = NodeBatch()
    h, _ = build_dir([Entry("a", "file", "c", 1, 1)], batch)
    async with pool.acquire() as conn:
        await save_nodes(conn, NodeCache(0), batch)
        await conn.execute("UPDATE nodes SET data = $2 WHERE hash = $1", h, b'["d",[]]')
        with pytest.raises(Corrupted):
            await PgNodes(NodeCache(1024), conn).get(h)
        with pytest.raises(Corrupted):
            await PgNodes(NodeCache(1024), conn).get_many(["0" * 64])
