"""The pool's connections skip asyncpg's reset query, except those marked as holding session state."""

from __future__ import annotations

from pydantic import SecretStr

from tusk_common.db import create_pool, keep_session_state
from tusk_common.settings import DatabaseSettings


async def test_a_connection_goes_back_as_it_is_unless_it_holds_locks_or_listens(database_url: str):
    pool = await create_pool(DatabaseSettings(url=SecretStr(database_url), pool_min=1, pool_max=1), schema="pooled")
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'left-as-is'")
        async with pool.acquire() as conn:  # the same connection (pool of one): no reset ran
            assert await conn.fetchval("SHOW application_name") == "left-as-is"
            keep_session_state(conn)
            await conn.execute("SELECT pg_advisory_lock(4242)")
        async with pool.acquire() as conn:  # marked: fully reset, so the lock is gone and the name restored
            assert await conn.fetchval("SHOW application_name") == "tusk-pooled"
            assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
        async with pool.acquire() as conn:  # ...and only once
            await conn.execute("SET application_name = 'again'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == "again"
    finally:
        await pool.close()
