"""`rebuild`: the whole graph again from the state of versioning and the scheduler, so a lost lineage
database is never a loss of truth.

Versioning gives every commit and, per commit, the files that changed; the scheduler gives pipelines,
jobs (with their input commits) and datums (with their inputs). A datum's outputs are not in the
scheduler's RPC replies today, so they are read back from the `datum.done` events still retained in
`TUSK_EVENTS`; a job with a single processed datum whose event is gone gets its output commit's changed
files attributed to that datum; any other run is recorded with `outputs_known = false` and counted in
the report. The facts go through the same store functions as the live consumer, so both give one graph.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import nats.errors
import structlog
from nats.js.api import ConsumerConfig, DeliverPolicy

from tusk_common.bus import Bus
from tusk_common.errors import NotFound
from tusk_common.events import CloudEvent, DatumDone, LineageUpdated, parse_event
from tusk_common.outbox import enqueue
from tusk_common.subjects import EVENTS_STREAM, event_subject
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


async def replay_outputs(bus: Bus, deps: Deps) -> dict[tuple[str, str], dict[str, tuple[str, int]]]:
    """The outputs of every datum.done event still in the stream, by (job, datum id); the first wins."""
    found: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=60.0,
                            filter_subject=event_subject(DatumDone.KIND))  # fmt: skip
    sub = await bus.js.pull_subscribe(event_subject(DatumDone.KIND), durable=None, stream=EVENTS_STREAM,
                                      config=config)  # fmt: skip
    try:
        while True:
            try:
                msgs = await sub.fetch(500, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                return found
            for msg in msgs:
                await msg.ack()
                ev = parse_event(CloudEvent.model_validate_json(msg.data))
                assert isinstance(ev, DatumDone)
                key = (ev.job, ev.datum_id)
                if key not in found:
                    try:
                        found[key] = await deps.sources.outputs(ev.outputs, ev.outputs_ref)
                    except NotFound:
                        log.warning("rebuild.outputs_missing", job=ev.job, datum=ev.datum_id)
            if msgs and msgs[-1].metadata.num_pending == 0:
                return found
    finally:
        await sub.unsubscribe()


async def rebuild(deps: Deps, bus: Bus) -> RebuildReport:
    started = time.monotonic()
    report: dict[str, int] = dict.fromkeys(("commits", "versions", "jobs", "runs", "pipelines", "runs_without_outputs"), 0)
    async with deps.pool.acquire() as lock_conn:
        await lock_conn.execute("SELECT pg_advisory_lock(hashtext($1))", _LOCK)
        try:
            async with deps.pool.acquire() as conn:
                await store.wipe(conn)
            await _commits(deps, report)
            outputs = await replay_outputs(bus, deps)
            await _pipelines(deps, outputs, report)
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


async def _pipelines(deps: Deps, outputs: dict[tuple[str, str], dict[str, tuple[str, int]]],
                     report: dict[str, int]) -> None:  # fmt: skip
    for p in await deps.sources.list_pipelines():
        info = await deps.sources.inspect_pipeline(p.name)
        report["pipelines"] += 1
        async with deps.pool.acquire() as conn, conn.transaction():
            for f in translate.pipeline_versions(info):
                await store.upsert_pipeline_version(conn, f)
        jobs = sorted(await deps.sources.list_jobs(p.name), key=lambda j: (j.created_at, j.id))
        for job in jobs:
            await _job(deps, job, outputs, report)


async def _job(deps: Deps, job: w.JobInfo, outputs: dict[tuple[str, str], dict[str, tuple[str, int]]],
               report: dict[str, int]) -> None:  # fmt: skip
    datums = await deps.sources.list_datums(job.pipeline, job.id)
    processed = [d for d in datums if d.state in ("success", "recovered")]
    skipped = [d.datum_id for d in datums if d.state == "skipped"]
    inputs = await asyncio.gather(*(deps.sources.datum_inputs(d) for d in processed))
    async with deps.pool.acquire() as conn, conn.transaction():
        await store.upsert_job(conn, translate.job_from_info(job))
        report["jobs"] += 1
        runs = []
        for d, ins in zip(processed, inputs, strict=True):
            outs = outputs.get((job.id, d.datum_id))
            if outs is None and len(processed) == 1 and job.output_commit is not None:
                outs = await _commit_files(conn, job.output_commit)
            if outs is None:
                report["runs_without_outputs"] += 1
            runs.append(translate.run_from_datum(d, ins, outs))
        report["runs"] += await store.record_runs(conn, runs)
        if job.state in store.FINAL_JOB_STATES:
            await store.attach_job(conn, job.id, skipped)


async def _commit_files(conn: Any, commit: str) -> dict[str, tuple[str, int]]:
    """The files a commit changed (the outputs of its job's only datum, when its event is gone)."""
    c = await store.get_commit(conn, commit)
    if c is None:
        return {}
    rows = await conn.fetch("SELECT path, content_id, size FROM versions WHERE lane = $1 AND seq = $2"
                            " AND content_id IS NOT NULL", c.lane, c.seq)  # fmt: skip
    return {r["path"]: (r["content_id"], r["size"]) for r in rows}
