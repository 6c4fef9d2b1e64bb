"""Gauges of work waiting, read when Prometheus scrapes: unsent outbox rows and JetStream consumer lag.

Both mirror state kept elsewhere (a Postgres table, the NATS server), so a service registers their
`refresh` with `ServiceContext.on_scrape` instead of counting in its hot paths; replicas of one service
report the same values (dashboards take `max` per consumer, `sum` per job of the outbox).
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
import nats.js.errors
from nats.js.api import ConsumerInfo
from prometheus_client import CollectorRegistry, Gauge

from tusk_common.bus import Bus

ConsumerKey = tuple[str, str]  # (stream, durable)


class OutboxBacklog:
    """`tusk_outbox_backlog` and `tusk_outbox_oldest_seconds` of one service's outbox table."""

    def __init__(self, registry: CollectorRegistry, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.rows = Gauge("tusk_outbox_backlog", "Outbox rows not yet acknowledged by JetStream.",
                          registry=registry)  # fmt: skip
        self.oldest = Gauge("tusk_outbox_oldest_seconds", "Age of the oldest unsent outbox row (0: none).",
                            registry=registry)  # fmt: skip

    async def refresh(self) -> None:
        # The relay deletes rows as JetStream acknowledges them, so the table stays small.
        row = await self._pool.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age FROM outbox"
        )
        assert row is not None
        self.rows.set(row["n"])
        self.oldest.set(max(0.0, float(row["age"])))


class ConsumerLag:
    """`tusk_consumer_lag{stream, consumer}`: messages a durable has not processed yet (pending + in flight).

    `durables` are watched by name; `prefixes` take every consumer of a stream whose name starts with
    the prefix (the per-pipeline `tusk-worker-<pipeline>` consumers). Consumers that vanish lose their series.
    """

    def __init__(self, registry: CollectorRegistry, bus: Bus, *, durables: Iterable[ConsumerKey] = (),
                 prefixes: Iterable[ConsumerKey] = ()) -> None:  # fmt: skip
        self._bus = bus
        self._durables = list(durables)
        self._prefixes = list(prefixes)
        self._shown: set[ConsumerKey] = set()
        self.lag = Gauge("tusk_consumer_lag", "Messages a durable consumer has not processed yet.",
                         ["stream", "consumer"], registry=registry)  # fmt: skip

    async def read(self) -> dict[ConsumerKey, ConsumerInfo]:
        """The current info of every watched consumer that exists."""
        found: dict[ConsumerKey, ConsumerInfo] = {}
        for stream, durable in self._durables:
            try:
                found[(stream, durable)] = await self._bus.js.consumer_info(stream, durable)
            except nats.js.errors.NotFoundError:
                continue  # not created yet (a consumer is declared when its service first consumes)
        for stream, prefix in self._prefixes:
            for info in await self._all_consumers(stream):
                name = info.name or info.config.durable_name or ""
                if name.startswith(prefix):
                    found[(stream, name)] = info
        return found

    async def _all_consumers(self, stream: str) -> list[ConsumerInfo]:
        return await self._bus.consumers(stream)

    def show(self, found: dict[ConsumerKey, ConsumerInfo]) -> None:
        for (stream, name), info in found.items():
            self.lag.labels(stream=stream, consumer=name).set((info.num_pending or 0) + (info.num_ack_pending or 0))
        for gone in self._shown - set(found):
            self.lag.remove(*gone)
        self._shown = set(found)

    async def refresh(self) -> None:
        self.show(await self.read())
