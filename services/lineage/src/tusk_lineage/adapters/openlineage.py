"""The OpenLineage HTTP relay: posts queued RunEvents in order, with retries and exponential backoff.

Events are queued in Postgres (`openlineage_queue`) in the same transaction that recorded what they
announce, so a crash loses none. The queue is bounded (`openlineage_max_queue`: the oldest go past it),
one replica relays at a time (an advisory lock keeps a run's START before its COMPLETE), a 4xx answer
drops the event (it would never be accepted), and 5xx or network errors retry it up to
`openlineage_retries` times.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
import structlog
from prometheus_client import CollectorRegistry, Counter

from tusk_common.db import keep_session_state

log = structlog.get_logger(__name__)

_LOCK = "tusk-lineage-openlineage-relay"
MAX_BACKOFF = 30.0


class OpenLineageRelay:
    def __init__(self, pool: asyncpg.Pool, *, url: str, endpoint: str, api_key: str | None, timeout: float,
                 retries: int, backoff: float, registry: CollectorRegistry | None = None,
                 poll_interval: float = 0.5) -> None:  # fmt: skip
        self._pool = pool
        self._url = url.rstrip("/") + "/" + endpoint.lstrip("/")
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._backoff = backoff
        self._poll = poll_interval
        self.sent = Counter("tusk_lineage_openlineage_events", "OpenLineage events by outcome", ["outcome"],
                            registry=registry)  # fmt: skip

    async def run(self, stopping: asyncio.Event) -> None:
        async with aiohttp.ClientSession(timeout=self._timeout, headers=self._headers) as http:
            while not stopping.is_set():
                try:
                    n = await self.drain_once(http, stopping)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("openlineage.relay_failed", error=str(exc))
                    n = 0
                if n == 0:
                    await _sleep_or_stop(stopping, self._poll)

    async def drain_once(self, http: aiohttp.ClientSession, stopping: asyncio.Event | None = None) -> int:
        """Post the waiting events, oldest first; returns how many left the queue."""
        async with self._pool.acquire() as conn:
            keep_session_state(conn)
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", _LOCK):
                return 0
            try:
                rows = await conn.fetch("SELECT seq, payload, attempts FROM openlineage_queue ORDER BY seq LIMIT 100")
                done = 0
                for row in rows:
                    if stopping is not None and stopping.is_set():
                        break
                    outcome = await self._post(http, row["payload"])
                    if outcome == "retry" and row["attempts"] < self._retries:
                        await conn.execute("UPDATE openlineage_queue SET attempts = attempts + 1 WHERE seq = $1",
                                           row["seq"])  # fmt: skip
                        delay = min(MAX_BACKOFF, self._backoff * 2 ** row["attempts"])
                        self.sent.labels("retry").inc()
                        if stopping is not None:
                            await _sleep_or_stop(stopping, delay)
                        else:
                            await asyncio.sleep(delay)
                        break  # keep the order: the same event goes first next time
                    await conn.execute("DELETE FROM openlineage_queue WHERE seq = $1", row["seq"])
                    self.sent.labels("sent" if outcome == "sent" else "dropped").inc()
                    if outcome != "sent":
                        log.warning("openlineage.dropped", seq=row["seq"], outcome=outcome)
                    done += 1
                return done
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", _LOCK)

    async def _post(self, http: aiohttp.ClientSession, payload: Any) -> str:
        try:
            async with http.post(self._url, json=payload) as resp:
                await resp.read()
                if resp.status < 300:
                    return "sent"
                if resp.status in (408, 429) or resp.status >= 500:
                    return "retry"
                log.warning("openlineage.rejected", status=resp.status)
                return "rejected"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("openlineage.post_failed", error=f"{type(exc).__name__}: {exc}")
            return "retry"


async def _sleep_or_stop(stopping: asyncio.Event, delay: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=delay)
    except TimeoutError:
        pass
