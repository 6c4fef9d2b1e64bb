"""Datum results from workers (datum.done / datum.failed), and list / inspect / restart datum.

A result counts once: the first one for a datum that is still `starting` moves it; redeliveries,
duplicates from a worker killed after publishing, and late answers to a `restart datum` are ignored.
So a datum's outputs enter its job exactly once, keyed by the datum id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context

from tusk_common.bus import Received
from tusk_common.errors import Conflict, Invalid, NotFound
from tusk_common.events import DatumDone, DatumFailed, parse_event
from tusk_common.wire.pipelines import DatumInfo, DatumList, PendingDatumIds
from tusk_common.wire.versioning import FileContent
from tusk_scheduler.adapters import catalog
from tusk_scheduler.blobs import get_json, put_json
from tusk_scheduler.deps import Deps
from tusk_scheduler.jobs import require_job
from tusk_scheduler.records import datum_info


@dataclass(frozen=True)
class Result:
    """A datum's answer, as its row will hold it."""

    job: str
    datum_id: str
    state: str
    attempts: int
    outputs: dict[str, Any] | None
    output_files: int
    output_bytes: int
    worker: str
    stats: dict[str, Any]
    error: str | None


async def result_of(deps: Deps, ev: DatumDone | DatumFailed) -> Result:
    if isinstance(ev, DatumFailed):
        return Result(ev.job, ev.datum_id, "failed", ev.attempts, None, 0, 0, ev.worker,
                      {"process_seconds": ev.process_seconds}, ev.error)  # fmt: skip
    outputs: dict[str, Any] = {p: c.model_dump(mode="json") for p, c in ev.outputs.items()}
    if ev.outputs_ref is not None:
        outputs = await get_json(deps.store, ev.outputs_ref)
    stats = {
        "download_seconds": ev.download_seconds, "process_seconds": ev.process_seconds,
        "upload_seconds": ev.upload_seconds, "download_bytes": ev.download_bytes, "upload_bytes": ev.upload_bytes,
    }  # fmt: skip
    size = sum(FileContent.model_validate(c).size for c in outputs.values())
    return Result(ev.job, ev.datum_id, ev.state, ev.attempts, outputs, len(outputs), size, ev.worker, stats, None)


async def on_datum_result(deps: Deps, ev: DatumDone | DatumFailed) -> None:
    await settle(deps, [await result_of(deps, ev)])


async def on_datum_results(deps: Deps, batch: list[Received]) -> None:
    """A fetch of datum.done / datum.failed events: each job's results settled in one transaction."""
    by_job: dict[str, list[tuple[Result, Any]]] = {}
    for r in batch:
        ev = parse_event(r.event)
        if isinstance(ev, DatumDone | DatumFailed):
            by_job.setdefault(ev.job, []).append((await result_of(deps, ev), r.context))
    for results in by_job.values():
        token = otel_context.attach(results[-1][1])  # the job's next step continues the last result's trace
        try:
            await settle(deps, [res for res, _ in results])
        finally:
            otel_context.detach(token)


async def settle(deps: Deps, results: list[Result]) -> None:
    """Record the first answer of each datum that is still `starting`, in one transaction for the job;
    redeliveries, duplicates from a worker killed after publishing (or a datum set run again), and late
    answers to a `restart datum` are ignored."""
    first: dict[str, Result] = {}
    for res in results:
        first.setdefault(res.datum_id, res)
    rows = list(first.values())
    job_id = rows[0].job
    async with deps.pool.acquire() as conn, conn.transaction():
        job = await catalog.get_job(conn, job_id, lock=True)
        if job is None or job["state"] != "running":
            return  # the job ended (killed, deleted) or the results are duplicates
        moved = await conn.fetch(
            "UPDATE datums AS d SET state = u.state, attempts = u.attempts, outputs = u.outputs,"
            " output_files = u.output_files, output_bytes = u.output_bytes, worker = u.worker, stats = u.stats,"
            " error = u.error, finished_at = now()"
            " FROM unnest($2::text[], $3::text[], $4::int[], $5::jsonb[], $6::int[], $7::bigint[], $8::text[],"
            " $9::jsonb[], $10::text[]) AS u(datum_id, state, attempts, outputs, output_files, output_bytes,"
            " worker, stats, error)"
            " WHERE d.job = $1 AND d.datum_id = u.datum_id AND d.state = 'starting' RETURNING d.state",
            job_id, [r.datum_id for r in rows], [r.state for r in rows], [r.attempts for r in rows],
            [r.outputs for r in rows], [r.output_files for r in rows], [r.output_bytes for r in rows],
            [r.worker for r in rows], [r.stats for r in rows], [r.error for r in rows],
        )  # fmt: skip
        if not moved:
            return
        n = Counter(m["state"] for m in moved)
        pending = await conn.fetchval(
            "UPDATE jobs SET pending = pending - $2, processed = processed + $3, recovered = recovered + $4,"
            " failed = failed + $5 WHERE id = $1 RETURNING pending",
            job_id, len(moved), n["success"], n["recovered"], n["failed"],
        )  # fmt: skip
    if pending == 0:
        deps.kick(job["pipeline"])


async def pending(deps: Deps, job: str, ids: list[str]) -> PendingDatumIds:
    """Which of `ids` are datums of `job` still waiting for their first answer (all of them while the job
    runs and none has answered; none once the job has ended)."""
    async with deps.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT d.datum_id FROM datums d JOIN jobs j ON j.id = d.job WHERE d.job = $1"
            " AND d.datum_id = ANY($2::text[]) AND d.state = 'starting' AND j.state = 'running'",
            job, ids,
        )  # fmt: skip
    found = {r["datum_id"] for r in rows}
    return PendingDatumIds(datums=[i for i in ids if i in found])


async def list_datums(deps: Deps, pipeline: str, job: str, state: str | None, limit: int,
                      cursor: str | None, *, outputs: bool = False) -> DatumList:  # fmt: skip
    async with deps.pool.acquire() as conn:
        row = await require_job(conn, pipeline, job)
        rows = await catalog.list_datums(conn, row["id"], state=state, limit=limit + 1, after=cursor)
    page = rows[:limit]
    infos = [datum_info(r, pipeline) for r in page]
    if outputs:
        infos = await _with_outputs(deps, page, infos)
    return DatumList(datums=infos, next_cursor=page[-1]["datum_id"] if len(rows) > limit else None)


async def _with_outputs(deps: Deps, rows: list[Any], infos: list[DatumInfo]) -> list[DatumInfo]:
    """Each datum's output manifest: inline while the reply holds at most `inline_outputs` files in all,
    the others as JSON in the chunk store (as a worker does in datum.done), so a reply stays small."""
    budget = deps.settings.inline_outputs
    out = []
    for r, info in zip(rows, infos, strict=True):
        manifest: dict[str, Any] | None = r["outputs"]
        if manifest is None:
            out.append(info)
        elif len(manifest) <= budget:
            budget -= len(manifest)
            inline = {p: FileContent.model_validate(c) for p, c in manifest.items()}
            out.append(info.model_copy(update={"outputs": inline}))
        else:
            out.append(info.model_copy(update={"outputs_ref": await put_json(deps.store, manifest)}))
    return out


async def _find(conn: Any, job_id: str, datum: str) -> Any:
    if len(datum) < 4:
        raise Invalid("give at least 4 characters of the datum id", field="datum")
    found = await catalog.find_datums(conn, job_id, datum)
    if not found:
        raise NotFound(f"datum {datum} not found in job {job_id}", job=job_id, datum=datum)
    if len(found) > 1 and found[0]["datum_id"] != datum:
        raise Invalid(f"datum {datum} is ambiguous: give more of its id", field="datum")
    return found[0]


async def inspect_datum(deps: Deps, pipeline: str, job: str, datum: str, *, outputs: bool = False) -> DatumInfo:
    async with deps.pool.acquire() as conn:
        row = await require_job(conn, pipeline, job)
        found = await _find(conn, row["id"], datum)
    info = datum_info(found, pipeline)
    return (await _with_outputs(deps, [found], [info]))[0] if outputs else info


async def restart_datum(deps: Deps, pipeline: str, job: str, datum: str) -> DatumInfo:
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await require_job(conn, pipeline, job)
        d = await _find(conn, row["id"], datum)
        if row["state"] != "running" or d["state"] != "starting":
            raise Conflict(
                f"datum {d['datum_id']} is {d['state']} in a job that is {row['state']}: only a running datum"
                " can be restarted (a new job runs failed datums again)",
                datum=d["datum_id"], state=d["state"],
            )  # fmt: skip
        d = await conn.fetchrow(
            "UPDATE datums SET generation = generation + 1, enqueued = false WHERE job = $1 AND datum_id = $2"
            " RETURNING *",
            row["id"], d["datum_id"],
        )  # fmt: skip
    deps.kick(pipeline)
    return datum_info(d, pipeline)
