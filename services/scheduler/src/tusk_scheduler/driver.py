"""The per-pipeline driver: moves a pipeline's jobs one step at a time, in commit order.

Anyone who changes what a pipeline should do next (a new job, the last datum of a job, a restart)
calls `kick(pipeline)`. The driver bumps the pipeline's `kicks` counter and takes its advisory lock
(one driver per pipeline across every replica); after releasing the lock it re-reads `kicks`, so a
kick that arrived while it held the lock is never lost. A sweeper kicks every pipeline with unfinished
jobs now and then, which is how a replica takes over the pipelines of one that died.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools

import asyncpg
import structlog

from tusk_common.errors import TuskError
from tusk_scheduler import lifecycle
from tusk_scheduler.adapters import catalog
from tusk_scheduler.adapters.locks import pipeline_lock
from tusk_scheduler.deps import Deps
from tusk_scheduler.domain.dag import upstream_pipelines
from tusk_scheduler.domain.units import parse_duration

log = structlog.get_logger(__name__)


class Driver:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        # Each driven pipeline holds a connection for its lock and uses others: stay inside the pool.
        self._slots = asyncio.Semaphore(max(1, deps.settings.database.pool_max // 3))
        self._closed = False

    def kick(self, pipeline: str) -> None:
        if self._closed:
            return
        if pipeline in self._tasks:
            self._again.add(pipeline)
            return
        task = asyncio.create_task(self._loop(pipeline), name=f"drive-{pipeline}")
        self._tasks[pipeline] = task
        task.add_done_callback(functools.partial(self._forget, pipeline))

    def _forget(self, pipeline: str, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(pipeline, None)

    async def idle(self) -> None:
        """Wait until no pipeline is being driven in this process (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, pipeline: str) -> None:
        while True:
            self._again.discard(pipeline)
            try:
                async with self._slots:
                    await self._drive(pipeline)
            except TuskError as exc:
                # Versioning or NATS unavailable, mostly: the sweeper tries again.
                log.warning("driver.step_failed", pipeline=pipeline, error=exc.message, code=exc.code)
                return
            except Exception:
                log.exception("driver.crashed", pipeline=pipeline)
                return
            if pipeline not in self._again:
                return

    async def _drive(self, pipeline: str) -> None:
        pool = self.deps.pool
        async with pool.acquire() as conn:
            if await catalog.bump_kicks(conn, pipeline) is None:
                return  # deleted
        while True:
            async with pipeline_lock(pool, pipeline) as locked:
                if locked is None:
                    return  # another driver holds it and will see our kick
                async with pool.acquire() as conn:
                    before = await catalog.kicks(conn, pipeline)
                await self._steps(pipeline)
            async with pool.acquire() as conn:
                after = await catalog.kicks(conn, pipeline)
            if after is None or after == before:
                return

    async def _upstream_busy(self, conn: asyncpg.Connection, pipeline: str, commit_set: str) -> bool:
        """Whether a pipeline upstream still works on the commit set (so this job would read a stale side)."""
        upstream = upstream_pipelines(await catalog.all_inputs(conn), pipeline)
        busy = await catalog.upstream_busy(conn, commit_set, sorted(upstream))
        if busy is not None:
            log.debug("driver.waits_for_upstream", pipeline=pipeline, commit_set=commit_set, upstream=busy)
        return busy is not None

    async def _steps(self, pipeline: str) -> None:
        deps = self.deps
        while True:
            async with deps.pool.acquire() as conn:
                p = await catalog.get_pipeline(conn, pipeline)
                if p is None:
                    return
                job = await catalog.active_job(conn, pipeline)
                if job is None:
                    if p["state"] != "running":
                        return
                    nxt = await catalog.next_created_job(conn, pipeline)
                    if nxt is None:
                        return
                    if await self._upstream_busy(conn, pipeline, nxt["commit_set"]):
                        return  # the last upstream output commit of the set kicks us again
                    job = await catalog.move_job(conn, nxt["id"], "created", "starting")
                    if job is None:
                        continue
            try:
                if job["state"] == "starting":
                    await lifecycle.start_job(deps, job)
                elif job["state"] == "running":
                    if job["pending"] > 0:
                        await lifecycle.resend_tasks(deps, job)
                        return  # datum events move it on
                    async with deps.pool.acquire() as conn:
                        await catalog.move_job(conn, job["id"], "running", "finishing")
                elif job["state"] == "finishing":
                    await lifecycle.finish_job(deps, job)
            except lifecycle.JobMoved:
                continue
            except TuskError as exc:
                if exc.retryable:
                    raise  # versioning or NATS away: the sweeper tries again
                # The job cannot go on (an input repo was deleted, a spec no longer parses...): it fails
                # with the reason instead of being retried forever.
                log.warning("driver.job_failed", pipeline=pipeline, job=job["id"], error=exc.message)
                async with deps.pool.acquire() as conn:
                    current = await catalog.get_job(conn, job["id"])
                if current is not None and current["state"] in catalog.NOT_DONE:
                    await lifecycle.kill_job(deps, current, f"{exc.code}: {exc.message}", state="failure")


class Sweeper:
    """Kicks pipelines with unfinished jobs, and kills jobs past their `job_timeout`."""

    def __init__(self, deps: Deps, driver: Driver) -> None:
        self.deps = deps
        self.driver = driver

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.sweep()
            except (TuskError, OSError) as exc:
                log.warning("sweeper.failed", error=str(exc))
            except Exception:
                log.exception("sweeper.crashed")
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self.deps.settings.sweep_interval)
            except TimeoutError:
                pass

    async def sweep(self) -> None:
        async with self.deps.pool.acquire() as conn:
            names = await catalog.pipelines_with_work(conn)
            overdue = await catalog.overdue_jobs(conn)
        for row in overdue:
            await self._timeout(row)
        for name in names:
            self.driver.kick(name)

    async def _timeout(self, row: object) -> None:
        deps = self.deps
        limit = parse_duration(row["job_timeout"])  # type: ignore[index]
        async with deps.pool.acquire() as conn:
            job = await catalog.get_job(conn, row["id"])  # type: ignore[index]
        if job is None or job["started_at"] is None:
            return
        if dt.datetime.now(dt.UTC) - job["started_at"] < dt.timedelta(seconds=limit):
            return
        async with pipeline_lock(deps.pool, job["pipeline"], wait=30.0):
            async with deps.pool.acquire() as conn:
                job = await catalog.get_job(conn, job["id"])
            if job is not None and job["state"] in catalog.NOT_DONE:
                await lifecycle.kill_job(deps, job, f"job_timeout ({row['job_timeout']}) passed")  # type: ignore[index]
        self.driver.kick(job["pipeline"] if job else "")
