"""Use cases on jobs: create them for new input commits, list, inspect, wait, stop; wait commit sets."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from tusk_common import naming
from tusk_common.errors import Conflict, Invalid, NotFound, Unavailable
from tusk_common.events import CommitFinished, JobCreated
from tusk_common.outbox import enqueue
from tusk_common.tracing import carried
from tusk_common.wire.pipelines import JOB_TERMINAL, CommitSetStatus, JobInfo, JobList
from tusk_scheduler import lifecycle
from tusk_scheduler.adapters import catalog
from tusk_scheduler.adapters.locks import pipeline_lock
from tusk_scheduler.deps import Deps
from tusk_scheduler.records import job_info

log = structlog.get_logger(__name__)


def new_id() -> str:
    return uuid.uuid4().hex


async def create_job(
    conn: asyncpg.Connection, deps: Deps, pipeline: str, *, commit_set: str | None = None,
    trigger: tuple[str, str, str] | None = None, trigger_error: str | None = None,
    trigger_time: datetime | None = None,
) -> Any | None:  # fmt: skip
    """Insert a `created` job and its job.created event (inside the caller's transaction)."""
    p = await catalog.get_pipeline(conn, pipeline, lock=True)
    if p is None:
        return None
    job_id = new_id()
    row = await catalog.insert_job(conn, job_id, p, commit_set=commit_set or job_id, trigger=trigger,
                                   trigger_error=trigger_error, trigger_time=trigger_time,
                                   trace_context=carried())  # fmt: skip
    if row is None:
        return None
    await enqueue(conn, JobCreated(
        pipeline=pipeline, job=job_id, pipeline_version=row["pipeline_version"], commit_set=row["commit_set"],
        trigger_repo=row["trigger_repo"], trigger_branch=row["trigger_branch"],
        trigger_commit=row["trigger_commit"], output_repo=pipeline, output_branch=row["output_branch"],
    ), source=deps.source)  # fmt: skip
    return row


async def on_commit_finished(deps: Deps, ev: CommitFinished, at: datetime) -> list[str]:
    """A commit finished: a job for every pipeline reading its branch. Returns the pipelines to drive."""
    async with deps.pool.acquire() as conn, conn.transaction():
        producer = await catalog.job_of_output(conn, ev.commit)
        # An output commit belongs to the commit set of its job, whatever versioning recorded.
        commit_set = producer["commit_set"] if producer is not None else ev.commit_set
        if not await catalog.see_commit(conn, ev.commit, ev.repo, commit_set, ev.branch):
            return []  # redelivered
        if ev.branch is None:
            return []
        # A commit made before a pipeline existed is covered by the pipeline's first job (which reads
        # the heads when it starts); its late event must not make a second job.
        readers = await catalog.readers_of(conn, ev.repo, ev.branch, since=at)
        made = []
        for name in readers:
            if await catalog.created_job_in_set(conn, name, commit_set) is not None:
                # One job per pipeline and commit set (Pachyderm's rule): a diamond's second side joins
                # the job its first side made, which waits for both and reads this commit as well.
                made.append(name)
                continue
            row = await create_job(conn, deps, name, commit_set=commit_set,
                                   trigger=(ev.repo, ev.branch, ev.commit), trigger_error=ev.error,
                                   trigger_time=at)  # fmt: skip
            if row is not None:
                made.append(name)
    return made


async def list_jobs(deps: Deps, pipeline: str | None, commit_set: str | None, limit: int,
                    cursor: str | None) -> JobList:  # fmt: skip
    if commit_set is not None and not naming.is_commit_id(commit_set):
        # `tusk list job NAME` reads NAME as a commit set (Pachyderm's grammar): say so, not "no jobs".
        raise Invalid(f"commit_set {commit_set!r} is not a commit set id (32 hex characters); the jobs of a"
                      " pipeline are listed with the pipeline filter (`tusk list job -p NAME`, REST"
                      " `?pipeline=NAME`)", field="commit_set")  # fmt: skip
    before = None
    if cursor:
        try:
            ts, _, jid = cursor.partition("|")
            before = (datetime.fromisoformat(ts), jid)
        except ValueError:
            raise Invalid("cursor is not one this service returned", field="cursor") from None
    async with deps.pool.acquire() as conn:
        if pipeline is not None and await catalog.get_pipeline(conn, pipeline) is None:
            raise NotFound(f"pipeline {pipeline!r} not found", pipeline=pipeline)
        rows = await catalog.list_jobs(conn, pipeline=pipeline, commit_set=commit_set, limit=limit + 1,
                                       before=before)  # fmt: skip
    page = rows[:limit]
    nxt = f"{page[-1]['created_at'].isoformat()}|{page[-1]['id']}" if len(rows) > limit else None
    return JobList(jobs=[await _live(deps, r) for r in page], next_cursor=nxt)


async def _live(deps: Deps, row: Any) -> JobInfo:
    """A job's info; a running job's stats are summed now (a finished one stored them)."""
    info = job_info(row)
    if row["state"] in ("running", "finishing"):
        async with deps.pool.acquire() as conn:
            stats = await catalog.datum_stats(conn, row["id"])
        info = info.model_copy(update={"stats": info.stats.model_validate(stats)})
    return info


async def require_job(conn: Any, pipeline: str, job: str) -> Any:
    row = await catalog.find_job(conn, pipeline, job)
    if row is None:
        if await catalog.get_pipeline(conn, pipeline) is None:
            raise NotFound(f"pipeline {pipeline!r} not found", pipeline=pipeline)
        raise NotFound(f"job {job} of pipeline {pipeline!r} not found", pipeline=pipeline, job=job)
    return row


async def inspect_job(deps: Deps, pipeline: str, job: str) -> JobInfo:
    async with deps.pool.acquire() as conn:
        row = await require_job(conn, pipeline, job)
    return await _live(deps, row)


async def wait_job(deps: Deps, pipeline: str, job: str, within: float) -> JobInfo:
    deadline = time.monotonic() + within
    while True:
        async with deps.pool.acquire() as conn:
            row = await require_job(conn, pipeline, job)
        if row["state"] in JOB_TERMINAL:
            return job_info(row)
        if time.monotonic() >= deadline:
            raise Unavailable(f"job {row['id']} did not finish within {within:g}s", job=row["id"],
                              state=row["state"])  # fmt: skip
        await asyncio.sleep(deps.settings.wait_poll_interval)


async def stop_job(deps: Deps, pipeline: str, job: str, reason: str) -> JobInfo:
    async with deps.pool.acquire() as conn:
        row = await require_job(conn, pipeline, job)
    if row["state"] in JOB_TERMINAL:
        raise Conflict(f"job {row['id']} already finished ({row['state']})", job=row["id"], state=row["state"])
    async with pipeline_lock(deps.pool, pipeline, wait=60.0):
        async with deps.pool.acquire() as conn:
            current = await catalog.get_job(conn, row["id"])
        if current is None:
            raise NotFound(f"job {row['id']} was deleted with its pipeline", job=row["id"])
        if current["state"] not in JOB_TERMINAL:
            await lifecycle.kill_job(deps, current, reason)
    deps.kick(pipeline)
    async with deps.pool.acquire() as conn:
        final = await catalog.get_job(conn, row["id"])
    if final is None:
        raise NotFound(f"job {row['id']} was deleted with its pipeline", job=row["id"])
    return job_info(final)


async def wait_commit_set(deps: Deps, commit_set: str, commit: str | None, within: float) -> CommitSetStatus:
    """Done when the scheduler has handled `commit`, every job of the set has finished, and the output
    commit of each of those jobs has been handled too (so their downstream jobs exist)."""
    deadline = time.monotonic() + within
    while True:
        # One snapshot for both reads: an output commit seen must come with the jobs its event created.
        async with deps.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await catalog.list_jobs(conn, pipeline=None, commit_set=commit_set, limit=10_000, before=None)
            wanted = [r["output_commit"] for r in rows if r["output_commit"]]
            if commit:
                wanted.append(commit)
            missing = set(wanted) - await catalog.seen(conn, wanted)
        done = not missing and all(r["state"] in JOB_TERMINAL for r in rows)
        if done or time.monotonic() >= deadline:
            jobs = sorted((job_info(r) for r in rows), key=lambda j: j.created_at)
            failed = any(j.state in ("failure", "killed", "unrunnable") for j in jobs)
            return CommitSetStatus(commit_set=commit_set, done=done, failed=failed, jobs=jobs)
        await asyncio.sleep(deps.settings.wait_poll_interval)
