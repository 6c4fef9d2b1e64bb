"""`rebuild`: the whole graph again from the state of versioning and the scheduler, so a lost lineage
database is never a loss of truth.

Versioning gives every commit and, per commit, the files that changed; the scheduler gives pipelines
(every version with its spec), jobs (with their input commits) and datums (with their inputs and output
manifests). Nothing is read from the event stream, so a rebuild is exact however long ago the events
expired. The facts go through the same store functions as the live consumer, so both give one graph.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import structlog

from tusk_common.db import keep_session_state
from tusk_common.events import LineageUpdated
from tusk_common.outbox import enqueue
from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v
from tusk_common.wire.lineage import RebuildReport
from tusk_lineage import translate
from tusk_lineage.adapters import store
from tusk_lineage.deps import Deps

log = structlog.get_logger(__name__)
_LOCK = "tusk-lineage-rebuild"


def parents_first(commits: Iterable[v.CommitInfo]) -> list[v.CommitInfo]:
    """Commits ordered so that each comes after its parent (ties by start time)."""
    todo = sorted(commits, key=lambda c: (c.started_at, c.id))
    by_id = {c.id: c for c in todo}
    done: set[str] = set()
    out: list[v.CommitInfo] = []
    for c in todo:
        chain = []
        cur: v.CommitInfo | None = c
        while cur is not None and cur.id not in done:
            chain.append(cur)
            done.add(cur.id)
            cur = by_id.get(cur.parent) if cur.parent else None
        out.extend(reversed(chain))
    return out


async def rebuild(deps: Deps) -> RebuildReport:
    started = time.monotonic()
    report: dict[str, int] = dict.fromkeys(("commits", "versions", "jobs", "runs", "pipelines", "runs_without_outputs"), 0)
    async with deps.pool.acquire() as lock_conn:
        keep_session_state(lock_conn)
        await lock_conn.execute("SELECT pg_advisory_lock(hashtext($1))", _LOCK)
        try:
            async with deps.pool.acquire() as conn:
                await store.wipe(conn)
            await _commits(deps, report)
            await _pipelines(deps, report)
            async with deps.pool.acquire() as conn, conn.transaction():
                await enqueue(conn, LineageUpdated(reason="rebuild", files=report["versions"]), source=deps.source)
        finally:
            await lock_conn.execute("SELECT pg_advisory_unlock(hashtext($1))", _LOCK)
    log.info("lineage.rebuilt", **report)
    return RebuildReport(**report, seconds=time.monotonic() - started)


async def _commits(deps: Deps, report: dict[str, int]) -> None:
    slots = asyncio.Semaphore(deps.settings.lookups)

    async def changes(r: store.CommitRow) -> Any:
        async with slots:
            return await deps.sources.changes(r.repo, r.commit, full=r.needs_full_listing)

    for repo in await deps.sources.list_repos():
        commits = parents_first(await deps.sources.list_commits(repo.name))
        rows: list[store.CommitRow] = []
        async with deps.pool.acquire() as conn, conn.transaction():
            for c in commits:
                rows.append(await store.upsert_commit(conn, translate.commit_from_info(c)))
        report["commits"] += len(rows)
        finished = [r for r in rows if r.state == "finished"]
        for start in range(0, len(finished), 200):
            chunk = finished[start : start + 200]
            found = await asyncio.gather(*(changes(r) for r in chunk))
            async with deps.pool.acquire() as conn, conn.transaction():
                for r, ch in zip(chunk, found, strict=True):
                    report["versions"] += await store.record_versions(conn, r, ch)


async def _pipelines(deps: Deps, report: dict[str, int]) -> None:
    for p in await deps.sources.list_pipelines():
        info = await deps.sources.inspect_pipeline(p.name)
        report["pipelines"] += 1
        async with deps.pool.acquire() as conn, conn.transaction():
            for f in translate.pipeline_versions(info):
                await store.upsert_pipeline_version(conn, f)
        jobs = sorted(await deps.sources.list_jobs(p.name), key=lambda j: (j.created_at, j.id))
        for job in jobs:
            await _job(deps, job, report)


async def _job(deps: Deps, job: w.JobInfo, report: dict[str, int]) -> None:
    datums = await deps.sources.list_datums(job.pipeline, job.id)
    processed = [d for d in datums if d.state in ("success", "recovered")]
    skipped = [d.datum_id for d in datums if d.state == "skipped"]
    inputs = await asyncio.gather(*(deps.sources.datum_inputs(d) for d in processed))
    outputs = await asyncio.gather(*(deps.sources.outputs(d.outputs, d.outputs_ref) for d in processed))
    runs = [translate.run_from_datum(d, ins, outs) for d, ins, outs in zip(processed, inputs, outputs, strict=True)]
    report["runs_without_outputs"] += sum(r.outputs is None for r in runs)
    async with deps.pool.acquire() as conn, conn.transaction():
        await store.upsert_job(conn, translate.job_from_info(job))
        report["jobs"] += 1
        report["runs"] += await store.record_runs(conn, runs)
        if job.state in store.FINAL_JOB_STATES:
            await store.attach_job(conn, job.id, skipped)

