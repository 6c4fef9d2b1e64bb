"""Datum results from workers (datum.done / datum.failed), and list / inspect / restart datum.

A result counts once: the first one for a datum that is still `starting` moves it; redeliveries,
duplicates from a worker killed after publishing, and late answers to a `restart datum` are ignored.
So a datum's outputs enter its job exactly once, keyed by the datum id.
"""

from __future__ import annotations

from typing import Any

from tusk_common.errors import Conflict, Invalid, NotFound
from tusk_common.events import DatumDone, DatumFailed
from tusk_common.wire.pipelines import DatumInfo, DatumList
from tusk_common.wire.versioning import FileContent
from tusk_scheduler.adapters import catalog
from tusk_scheduler.blobs import get_json, put_json
from tusk_scheduler.deps import Deps
from tusk_scheduler.jobs import require_job
from tusk_scheduler.records import datum_info


async def on_datum_done(deps: Deps, ev: DatumDone) -> None:
    outputs: dict[str, Any] = {p: c.model_dump(mode="json") for p, c in ev.outputs.items()}
    if ev.outputs_ref is not None:
        outputs = await get_json(deps.store, ev.outputs_ref)
    stats = {
        "download_seconds": ev.download_seconds, "process_seconds": ev.process_seconds,
        "upload_seconds": ev.upload_seconds, "download_bytes": ev.download_bytes, "upload_bytes": ev.upload_bytes,
    }  # fmt: skip
    size = sum(FileContent.model_validate(c).size for c in outputs.values())
    await _settle(deps, ev.job, ev.datum_id, ev.state, attempts=ev.attempts, outputs=outputs,
                  output_files=len(outputs), output_bytes=size, worker=ev.worker, stats=stats, error=None)  # fmt: skip


async def on_datum_failed(deps: Deps, ev: DatumFailed) -> None:
    await _settle(deps, ev.job, ev.datum_id, "failed", attempts=ev.attempts, outputs=None, output_files=0,
                  output_bytes=0, worker=ev.worker, stats={"process_seconds": ev.process_seconds},
                  error=ev.error)  # fmt: skip


async def _settle(deps: Deps, job_id: str, datum_id: str, state: str, **f: Any) -> None:
    counter = {"success": "processed", "recovered": "recovered", "failed": "failed"}[state]
    async with deps.pool.acquire() as conn, conn.transaction():
        job = await catalog.get_job(conn, job_id, lock=True)
        if job is None or job["state"] != "running":
            return  # the job ended (killed, deleted) or the result is a duplicate
        moved = await conn.fetchval(
            "UPDATE datums SET state = $3, attempts = $4, outputs = $5, output_files = $6, output_bytes = $7,"
            " worker = $8, stats = $9, error = $10, finished_at = now()"
            " WHERE job = $1 AND datum_id = $2 AND state = 'starting' RETURNING datum_id",
            job_id, datum_id, state, f["attempts"], f["outputs"], f["output_files"], f["output_bytes"],
            f["worker"], f["stats"], f["error"],
        )  # fmt: skip
        if moved is None:
            return
        pending = await conn.fetchval(
            f"UPDATE jobs SET pending = pending - 1, {counter} = {counter} + 1 WHERE id = $1 RETURNING pending",
            job_id,
        )
    if pending == 0:
        deps.kick(job["pipeline"])


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
