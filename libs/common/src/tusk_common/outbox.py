"""The transactional outbox: an event is written in the same transaction as the state it announces,
and a relay publishes it to JetStream, deleting the row only after JetStream acknowledged it.

If NATS is down, rows wait; when it is back they go out. A crash between publish and delete re-publishes
the row, and JetStream drops the duplicate by `Nats-Msg-Id` (= the event id) inside its dedup window.
Several relays (replicas) share the table through `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import asyncpg
import structlog
from opentelemetry import propagate, trace

from tusk_common.db import Migration, keep_session_state
from tusk_common.errors import Unavailable
from tusk_common.events import Event, envelope
from tusk_common.subjects import EVENTS_PREFIX
from tusk_common.tracing import resumed, tracer

if TYPE_CHECKING:
    from tusk_common.bus import Bus

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "tusk_outbox"


def outbox_migration(version: int) -> Migration:
    """The DDL of the outbox table, as a migration of the owning service's schema."""
    return Migration(
        version,
        "outbox",
        """
        CREATE TABLE outbox (
            seq bigserial PRIMARY KEY,
            event_id text NOT NULL UNIQUE,
            subject text NOT NULL,
            payload jsonb NOT NULL,
            headers jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    )


async def enqueue(
    conn: asyncpg.Connection,
    event: Event,
    *,
    source: str,
    headers: dict[str, str] | None = None,
) -> str:
    """Write `event` into the outbox inside the caller's transaction; returns its id."""
    ce = envelope(event, source=source)
    carried = dict(headers or {})
    propagate.inject(carried)  # the trace continues from the state change to the event's consumers
    await conn.execute(
        "INSERT INTO outbox (event_id, subject, payload, headers) VALUES ($1, $2, $3, $4)",
        ce.id,
        event.subject(),
        ce.model_dump(mode="json"),
        carried,
    )
    await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
    return ce.id


async def enqueue_many(conn: asyncpg.Connection, events: Sequence[Event], *, source: str) -> list[str]:
    """Write several events in one round trip (a commit announces three); same rows as `enqueue`."""
    envelopes = [envelope(e, source=source) for e in events]
    carried: dict[str, str] = {}
    propagate.inject(carried)
    await conn.execute(
        "WITH rows AS (INSERT INTO outbox (event_id, subject, payload, headers)"
        " SELECT id, subject, payload, $4::jsonb FROM unnest($1::text[], $2::text[], $3::jsonb[])"
        " AS t(id, subject, payload) RETURNING 1)"
        " SELECT pg_notify($5, '') FROM (SELECT count(*) FROM rows) AS n",
        [ce.id for ce in envelopes],
        [e.subject() for e in events],
        [ce.model_dump(mode="json") for ce in envelopes],
        carried,
        NOTIFY_CHANNEL,
    )
    return [ce.id for ce in envelopes]


class OutboxRelay:
    """Publishes outbox rows in order of writing; wakes on NOTIFY, polls as a fallback."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: Bus,
        *,
        batch: int = 256,
        poll_interval: float = 1.0,
        retry_delay: float = 0.5,
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._batch = batch
        self._poll = poll_interval
        self._retry_delay = retry_delay
        self._wake = asyncio.Event()

    async def drain_once(self) -> int:
        """Publish one batch; returns how many rows went out."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT seq, event_id, subject, payload, headers FROM outbox"
                " ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch,
            )
            if not rows:
                return 0
            sent: list[int] = []
            try:
                for row in rows:
                    await self._publish(row)
                    sent.append(row["seq"])
            finally:
                if sent:
                    await conn.execute("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", sent)
            return len(sent)

    async def _publish(self, row: asyncpg.Record) -> None:
        headers = dict(row["headers"])
        body = json.dumps(row["payload"]).encode()
        if "traceparent" not in headers:  # written outside any trace (tracing off)
            await self._bus.publish(row["subject"], body, msg_id=row["event_id"], headers=headers)
            return
        kind = row["subject"].removeprefix(f"{EVENTS_PREFIX}.")
        with tracer().start_as_current_span(f"publish {kind}", context=resumed(headers),
                                            kind=trace.SpanKind.PRODUCER):  # fmt: skip
            propagate.inject(headers)  # the consumers' spans become children of this one
            await self._bus.publish(row["subject"], body, msg_id=row["event_id"], headers=headers)

    async def backlog(self) -> int:
        return int(await self._pool.fetchval("SELECT count(*) FROM outbox"))

    async def run(self, stopping: asyncio.Event) -> None:
        """Relay until `stopping` is set; survives NATS and Postgres outages."""
        listener = await self._listen()
        try:
            while not stopping.is_set():
                # Cleared before draining, not after: a NOTIFY that arrives while a batch drains (its row
                # not yet visible to that batch) must wake the next round, not wait for the poll.
                self._wake.clear()
                try:
                    n = await self.drain_once()
                except (Unavailable, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("outbox.relay_failed", error=str(exc))
                    await _sleep_or_stop(stopping, self._retry_delay)
                    continue
                if n == self._batch:
                    continue
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stopping.wait())
                try:
                    await asyncio.wait({waiter, stopper}, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    stopper.cancel()
        finally:
            if listener is not None:
                try:
                    await listener.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                finally:
                    await self._pool.release(listener)

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await self._pool.acquire()
            keep_session_state(conn)
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            return conn
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("outbox.listen_failed", error=str(exc))
            return None

    def _on_notify(self, *_: object) -> None:
        self._wake.set()


async def _sleep_or_stop(stopping: asyncio.Event, delay: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=delay)
    except TimeoutError:
        pass
