"""Prometheus metrics of the scheduler, on the service's registry: jobs and datums by state per pipeline,
job durations, each pipeline's datum queue on `TUSK_DATUMS`, consumer lag and the outbox backlog.

The gauges mirror Postgres and JetStream, so they are read when Prometheus scrapes (`refresh`: one
GROUP BY over `jobs`, one indexed lookup per pipeline, one consumer listing, at most once per
`TUSK_METRICS_MAX_AGE`), never counted in the hot paths; every replica reports the same values. Only
`tusk_job_seconds` is observed as it happens, by the replica that ends the job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, get_args

import asyncpg
from prometheus_client import CollectorRegistry, Gauge, Histogram

from tusk_common.backlog import ConsumerLag, OutboxBacklog
from tusk_common.bus import Bus
from tusk_common.subjects import DATUMS_STREAM, EVENTS_STREAM
from tusk_common.wire.pipelines import WORKER_CONSUMER_PREFIX, JobStateName

JOB_STATES: tuple[str, ...] = get_args(JobStateName)
# The counters of a job row (`inspect job`), which are Pachyderm's data_processed/skipped/failed/recovered.
DATUM_STATES = ("pending", "processed", "skipped", "failed", "recovered")
JOB_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)

_JOBS_BY_STATE = "SELECT pipeline, state, count(*) AS n FROM jobs GROUP BY pipeline, state"
# Each pipeline's current job: the one running, else the last one that ended (both found by index).
_CURRENT_JOBS = """
SELECT p.name AS pipeline, j.pending, j.processed, j.skipped, j.failed, j.recovered
FROM pipelines p
LEFT JOIN LATERAL (
    SELECT * FROM (
        (SELECT 0 AS rank, pending, processed, skipped, failed, recovered FROM jobs
         WHERE pipeline = p.name AND state IN ('starting', 'running', 'finishing') ORDER BY seq LIMIT 1)
        UNION ALL
        (SELECT 1, pending, processed, skipped, failed, recovered FROM jobs
         WHERE pipeline = p.name AND state IN ('success', 'failure', 'killed', 'unrunnable')
         ORDER BY seq DESC LIMIT 1)
    ) c ORDER BY rank LIMIT 1
) j ON true
"""


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry, pool: asyncpg.Pool, bus: Bus, *,
                 durables: Iterable[str] = ()) -> None:  # fmt: skip
        self._pool = pool
        self.jobs = Gauge("tusk_jobs", "Jobs per pipeline and state.", ["pipeline", "state"], registry=registry)
        self.datums = Gauge("tusk_datums", "Datums of each pipeline's current job, by state.",
                            ["pipeline", "state"], registry=registry)  # fmt: skip
        self.job_seconds = Histogram("tusk_job_seconds", "Duration of finished jobs, by final state.",
                                     ["pipeline", "state"], buckets=JOB_BUCKETS, registry=registry)  # fmt: skip
        self.queue_depth = Gauge("tusk_datum_queue_depth", "Datum sets waiting in TUSK_DATUMS per pipeline.",
                                 ["pipeline"], registry=registry)  # fmt: skip
        self.lag = ConsumerLag(registry, bus, durables=[(EVENTS_STREAM, d) for d in durables],
                               prefixes=[(DATUMS_STREAM, WORKER_CONSUMER_PREFIX)])  # fmt: skip
        self.outbox = OutboxBacklog(registry, pool)

    def job_finished(self, job: Mapping[str, Any]) -> None:
        """Observe a job that just reached a final state (a row of `jobs`)."""
        if job["finished_at"] is None:
            return
        seconds = (job["finished_at"] - (job["started_at"] or job["created_at"])).total_seconds()
        self.job_seconds.labels(pipeline=job["pipeline"], state=job["state"]).observe(max(0.0, seconds))

    async def refresh(self) -> None:
        await asyncio.gather(self._from_postgres(), self._from_jetstream(), self.outbox.refresh())

    async def _from_postgres(self) -> None:
        async with self._pool.acquire() as conn:
            by_state = await conn.fetch(_JOBS_BY_STATE)
            current = await conn.fetch(_CURRENT_JOBS)
        # Set every series without an await in between, so a scrape never sees half an update.
        self.jobs.clear()
        self.datums.clear()
        for row in current:
            for state in JOB_STATES:
                self.jobs.labels(pipeline=row["pipeline"], state=state).set(0)
            for state in DATUM_STATES:
                self.datums.labels(pipeline=row["pipeline"], state=state).set(row[state] or 0)
        for row in by_state:
            self.jobs.labels(pipeline=row["pipeline"], state=row["state"]).set(row["n"])

    async def _from_jetstream(self) -> None:
        found = await self.lag.read()
        self.lag.show(found)
        self.queue_depth.clear()
        for (stream, name), info in found.items():
            if stream == DATUMS_STREAM:
                self.queue_depth.labels(pipeline=name.removeprefix(WORKER_CONSUMER_PREFIX)).set(info.num_pending or 0)
