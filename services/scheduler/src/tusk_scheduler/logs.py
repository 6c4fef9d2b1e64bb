"""Transform output lines: stored by the worker's batches, read back by pipeline, job and datum."""

from __future__ import annotations

from tusk_common.errors import Invalid
from tusk_common.wire.pipelines import LogLine, LogPage, Stored
from tusk_scheduler.deps import Deps
from tusk_scheduler.records import log_line


async def append(deps: Deps, lines: list[LogLine]) -> Stored:
    if not lines:
        return Stored(stored=0)
    async with deps.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO logs (pipeline, job, datum_id, attempt, stream, ts, message)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[],"
            " $6::timestamptz[], $7::text[])",
            [ln.pipeline for ln in lines], [ln.job for ln in lines], [ln.datum_id for ln in lines],
            [ln.attempt for ln in lines], [ln.stream for ln in lines], [ln.ts for ln in lines],
            [ln.message.replace("\x00", "") for ln in lines],
        )  # fmt: skip
    return Stored(stored=len(lines))


async def get(deps: Deps, pipeline: str, job: str | None, datum: str | None, tail: int | None, limit: int,
              cursor: str | None) -> LogPage:  # fmt: skip
    after = 0
    if cursor:
        if not cursor.isdigit():
            raise Invalid("cursor is not one this service returned", field="cursor")
        after = int(cursor)
    where = "pipeline = $1 AND ($2::text IS NULL OR job = $2) AND ($3::text IS NULL OR datum_id LIKE $3 || '%')"
    async with deps.pool.acquire() as conn:
        if job is not None:
            found = await conn.fetchval(
                "SELECT id FROM jobs WHERE pipeline = $1 AND (id = $2 OR commit_set = $2)"
                " ORDER BY (id = $2) DESC, seq DESC LIMIT 1",
                pipeline, job,
            )  # fmt: skip
            job = found or job
        if tail and not cursor:
            rows = await conn.fetch(
                f"SELECT * FROM logs WHERE {where} ORDER BY seq DESC LIMIT $4", pipeline, job, datum, tail
            )
            rows = list(reversed(rows))
        else:
            rows = await conn.fetch(
                f"SELECT * FROM logs WHERE {where} AND seq > $4 ORDER BY seq LIMIT $5",
                pipeline, job, datum, after, limit,
            )  # fmt: skip
    lines = [log_line(r) for r in rows]
    last = lines[-1].seq if lines else after
    return LogPage(lines=lines, next_cursor=str(last))
