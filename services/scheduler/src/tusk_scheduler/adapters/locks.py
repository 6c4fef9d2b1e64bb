"""Advisory locks: one driver per pipeline across every scheduler replica.

A session-level lock lives as long as the connection holding it, so a replica killed mid-step releases
its pipelines at once (Postgres notices the closed connection) and another replica takes over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tusk_common.db import keep_session_state
from tusk_common.errors import Unavailable

NAMESPACE = 0x7475736B  # "tusk": keeps these keys apart from other users of advisory locks


def _key(kind: str, name: str) -> str:
    return f"tusk-scheduler:{kind}:{name}"


@asynccontextmanager
async def pipeline_lock(
    pool: asyncpg.Pool, pipeline: str, *, wait: float | None = 0.0
) -> AsyncIterator[asyncpg.Connection | None]:
    """Hold the pipeline's lock; yields None when it is busy (`wait=0`: do not wait)."""
    conn = await pool.acquire()
    keep_session_state(conn)  # a lock whose grant was cut short by a cancel is still released
    locked = False
    try:
        if wait == 0.0:
            locked = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", NAMESPACE,
                                              _key("pipeline", pipeline)))  # fmt: skip
        else:
            try:
                await asyncio.wait_for(
                    conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", NAMESPACE, _key("pipeline", pipeline)),
                    timeout=wait,
                )
                locked = True
            except TimeoutError:
                # The statement may still be running on the server: drop the connection, not reuse it.
                conn.terminate()
                raise Unavailable(f"pipeline {pipeline!r} is busy; try again", pipeline=pipeline) from None
        yield conn if locked else None
    finally:
        try:
            if locked and not conn.is_closed():
                await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", NAMESPACE,
                                   _key("pipeline", pipeline))  # fmt: skip
        finally:
            await pool.release(conn)
