"""SQL of the scheduler's schema: pipelines and versions, jobs, datums, seen commits.

Functions take a connection so the caller chooses the transaction; names say what they read or move.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from tusk_common.errors import NotFound

Conn: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

ACTIVE = ("starting", "running", "finishing")
NOT_DONE = ("created", "starting", "running", "finishing")
JOB_COLUMNS = (
    "id, pipeline, pipeline_version, seq, state, commit_set, trigger_repo, trigger_branch, trigger_commit,"
    " trigger_error, trigger_time, inputs, output_branch, output_commit, reason, planned, total, processed,"
    " skipped, failed, recovered, pending, stats, created_at, started_at, finished_at, trace_context"
)


# ---------------------------------------------------------------- pipelines


async def get_pipeline(conn: Conn, name: str, *, lock: bool = False) -> asyncpg.Record | None:
    sql = "SELECT * FROM pipelines WHERE name = $1" + (" FOR UPDATE" if lock else "")
    return await conn.fetchrow(sql, name)


async def list_pipelines(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM pipelines ORDER BY name")


async def readers_of(conn: Conn, repo: str, branch: str | None = None, *, since: datetime | None = None
                     ) -> list[str]:  # fmt: skip
    """Pipelines reading `repo` (on `branch`, when given; created before `since`, when given)."""
    if branch is None:
        rows = await conn.fetch("SELECT name FROM pipelines WHERE $1 = ANY(input_repos) ORDER BY name", repo)
    else:
        rows = await conn.fetch(
            "SELECT name FROM pipelines WHERE inputs @> $1::jsonb AND ($2::timestamptz IS NULL OR created_at < $2)"
            " ORDER BY name",
            [[repo, branch]], since,
        )  # fmt: skip
    return [r["name"] for r in rows]


async def all_inputs(conn: Conn) -> dict[str, list[str]]:
    """pipeline -> its input repos (the DAG)."""
    return {r["name"]: list(r["input_repos"]) for r in await conn.fetch("SELECT name, input_repos FROM pipelines")}


async def insert_pipeline(
    conn: Conn, name: str, *, input_repos: list[str], inputs: list[list[str]], output_branch: str
) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO pipelines (name, version, input_repos, inputs, output_branch)"
        " VALUES ($1, 1, $2, $3, $4) RETURNING *",
        name, input_repos, inputs, output_branch,
    )  # fmt: skip


async def bump_pipeline(
    conn: Conn, name: str, version: int, *, input_repos: list[str], inputs: list[list[str]], output_branch: str
) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE pipelines SET version = $2, input_repos = $3, inputs = $4, output_branch = $5,"
        " updated_at = now() WHERE name = $1 RETURNING *",
        name, version, input_repos, inputs, output_branch,
    )  # fmt: skip


async def set_pipeline_state(conn: Conn, name: str, state: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE pipelines SET state = $2, updated_at = now() WHERE name = $1 RETURNING *", name, state
    )


async def delete_pipeline(conn: Conn, name: str) -> None:
    await conn.execute("DELETE FROM pipelines WHERE name = $1", name)
    await conn.execute("DELETE FROM logs WHERE pipeline = $1", name)


async def bump_kicks(conn: Conn, name: str) -> int | None:
    value = await conn.fetchval("UPDATE pipelines SET kicks = kicks + 1 WHERE name = $1 RETURNING kicks", name)
    return None if value is None else int(value)


async def kicks(conn: Conn, name: str) -> int | None:
    value = await conn.fetchval("SELECT kicks FROM pipelines WHERE name = $1", name)
    return None if value is None else int(value)


async def insert_version(
    conn: Conn, name: str, version: int, *, spec: dict[str, Any], spec_hash: str, transform_hash: str,
    datum_transform_hash: str, salt: str, reprocess: bool, keep_outputs: bool,
) -> asyncpg.Record:  # fmt: skip
    return await conn.fetchrow(
        "INSERT INTO pipeline_versions (pipeline, version, spec, spec_hash, transform_hash,"
        " datum_transform_hash, salt, reprocess, keep_outputs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " RETURNING *",
        name, version, spec, spec_hash, transform_hash, datum_transform_hash, salt, reprocess, keep_outputs,
    )  # fmt: skip


async def get_version(conn: Conn, name: str, version: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM pipeline_versions WHERE pipeline = $1 AND version = $2", name, version
    )


async def require_version(conn: Conn, name: str, version: int) -> asyncpg.Record:
    """A version the caller knows exists (a pipeline's current one, a job's): NotFound if it was deleted
    with its pipeline meanwhile."""
    row = await get_version(conn, name, version)
    if row is None:
        raise NotFound(f"pipeline {name!r} version {version} not found (deleted meanwhile?)", pipeline=name)
    return row


async def list_versions(conn: Conn, name: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM pipeline_versions WHERE pipeline = $1 ORDER BY version DESC", name
    )


# ---------------------------------------------------------------- jobs


async def insert_job(
    conn: Conn, job_id: str, pipeline: asyncpg.Record, *, commit_set: str, trigger: tuple[str, str, str] | None,
    trigger_error: str | None, trigger_time: datetime | None, trace_context: dict[str, str] | None = None,
) -> asyncpg.Record | None:  # fmt: skip
    """A `created` job after the pipeline's others (lock the pipeline row first); None if the trigger
    commit already has a job of this pipeline."""
    repo, branch, commit = trigger if trigger else (None, None, None)
    row = await conn.fetchrow(
        f"INSERT INTO jobs (id, pipeline, pipeline_version, seq, state, commit_set, trigger_repo, trigger_branch,"
        f" trigger_commit, trigger_error, trigger_time, output_branch, trace_context)"
        f" VALUES ($1, $2, $3, $4, 'created', $5, $6, $7, $8, $9, coalesce($10, now()), $11, $12)"
        f" ON CONFLICT (pipeline, trigger_commit) WHERE trigger_commit IS NOT NULL DO NOTHING"
        f" RETURNING {JOB_COLUMNS}",
        job_id, pipeline["name"], pipeline["version"], pipeline["next_seq"], commit_set, repo, branch, commit,
        trigger_error, trigger_time, pipeline["output_branch"], trace_context,
    )  # fmt: skip
    if row is not None:
        await conn.execute("UPDATE pipelines SET next_seq = next_seq + 1 WHERE name = $1", pipeline["name"])
    return row


async def get_job(conn: Conn, job_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1" + (" FOR UPDATE" if lock else "")
    return await conn.fetchrow(sql, job_id)


async def find_job(conn: Conn, pipeline: str, job_or_set: str) -> asyncpg.Record | None:
    """A job of `pipeline` by its id or by its commit set."""
    return await conn.fetchrow(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE pipeline = $1 AND (id = $2 OR commit_set = $2)"
        " ORDER BY (id = $2) DESC, seq DESC LIMIT 1",
        pipeline, job_or_set,
    )  # fmt: skip


async def job_of_output(conn: Conn, commit: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE output_commit = $1", commit)


async def active_job(conn: Conn, pipeline: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE pipeline = $1 AND state = ANY($2::text[]) ORDER BY seq LIMIT 1",
        pipeline, list(ACTIVE),
    )  # fmt: skip


async def next_created_job(conn: Conn, pipeline: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE pipeline = $1 AND state = 'created'"
        " ORDER BY trigger_time, seq LIMIT 1",
        pipeline,
    )


async def move_job(conn: Conn, job_id: str, frm: str | Sequence[str], to: str, **fields: Any) -> asyncpg.Record | None:
    """Move a job from state(s) `frm` to `to`, setting `fields`; None if it was not in `frm` any more."""
    states = [frm] if isinstance(frm, str) else list(frm)
    sets = ["state = $3"]
    args: list[Any] = [job_id, states, to]
    for key, value in fields.items():
        args.append(value)
        sets.append(f"{key} = ${len(args)}")
    if to in ("success", "failure", "killed", "unrunnable"):
        sets.append("finished_at = now()")
    if to == "running":
        sets.append("started_at = coalesce(started_at, now())")
    return await conn.fetchrow(
        f"UPDATE jobs SET {', '.join(sets)} WHERE id = $1 AND state = ANY($2::text[]) RETURNING {JOB_COLUMNS}",
        *args,
    )


async def set_job_fields(conn: Conn, job_id: str, **fields: Any) -> None:
    sets, args = [], [job_id]
    for key, value in fields.items():
        args.append(value)
        sets.append(f"{key} = ${len(args)}")
    await conn.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = $1", *args)


async def base_job(conn: Conn, pipeline: str, seq: int) -> asyncpg.Record | None:
    """The latest earlier job whose datums were planned: its datum records decide what is skipped."""
    return await conn.fetchrow(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE pipeline = $1 AND seq < $2 AND planned"
        " AND state IN ('success', 'failure', 'killed') ORDER BY seq DESC LIMIT 1",
        pipeline, seq,
    )  # fmt: skip


async def list_jobs(
    conn: Conn, *, pipeline: str | None, commit_set: str | None, limit: int, before: tuple[datetime, str] | None
) -> list[asyncpg.Record]:
    where: list[str] = []
    args: list[Any] = []
    if pipeline is not None:
        args.append(pipeline)
        where.append(f"pipeline = ${len(args)}")
    if commit_set is not None:
        args.append(commit_set)
        where.append(f"commit_set = ${len(args)}")
    if before is not None:
        args += [before[0], before[1]]
        where.append(f"(created_at, id) < (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    sql = f"SELECT {JOB_COLUMNS} FROM jobs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY created_at DESC, id DESC LIMIT ${len(args)}"
    return await conn.fetch(sql, *args)


async def last_job(conn: Conn, pipeline: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE pipeline = $1 ORDER BY seq DESC LIMIT 1", pipeline
    )


async def pipelines_with_work(conn: Conn) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT j.pipeline FROM jobs j JOIN pipelines p ON p.name = j.pipeline"
        " WHERE j.state = ANY($1::text[]) AND (p.state = 'running' OR j.state <> 'created')",
        list(NOT_DONE),
    )
    return [r["pipeline"] for r in rows]


async def overdue_jobs(conn: Conn) -> list[asyncpg.Record]:
    """Running jobs whose pipeline version's `job_timeout` has passed."""
    return await conn.fetch(
        "SELECT j.id, j.pipeline, (v.spec->>'job_timeout') AS job_timeout FROM jobs j"
        " JOIN pipeline_versions v ON v.pipeline = j.pipeline AND v.version = j.pipeline_version"
        " WHERE j.state = ANY($1::text[]) AND v.spec ? 'job_timeout' AND j.started_at IS NOT NULL",
        list(ACTIVE),
    )


# ---------------------------------------------------------------- datums


async def insert_datums(conn: Conn, job_id: str, rows: Iterable[dict[str, Any]]) -> None:
    """Bulk insert: each row has datum_id, datum_hash, state, inputs, and for skipped ones outputs."""
    rows = list(rows)
    if not rows:
        return
    await conn.execute(
        "INSERT INTO datums (job, datum_id, datum_hash, state, inputs, outputs, output_files, output_bytes,"
        " finished_at)"
        " SELECT $1, d, h, s, i::jsonb, o::jsonb, nf, nb, CASE WHEN s = 'skipped' THEN now() END"
        " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[])"
        " AS t(d, h, s, i, o, nf, nb)",
        job_id,
        [r["datum_id"] for r in rows],
        [r["datum_hash"] for r in rows],
        [r["state"] for r in rows],
        [json.dumps(r["inputs"]) for r in rows],
        [json.dumps(r["outputs"]) if r.get("outputs") is not None else None for r in rows],
        [r.get("output_files", 0) for r in rows],
        [r.get("output_bytes", 0) for r in rows],
    )


async def datum_records(conn: Conn, job_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT datum_id, datum_hash, state, outputs, output_files, output_bytes, error, stats FROM datums"
        " WHERE job = $1",
        job_id,
    )


async def unsent_datums(conn: Conn, job_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT datum_id, generation FROM datums WHERE job = $1 AND state = 'starting' AND NOT enqueued"
        " ORDER BY datum_id",
        job_id,
    )


async def mark_sent(conn: Conn, job_id: str, ids: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE datums SET enqueued = true WHERE job = $1 AND datum_id = ANY($2::text[])", job_id, list(ids)
    )


async def get_datum(conn: Conn, job_id: str, datum: str, *, lock: bool = False) -> asyncpg.Record | None:
    sql = "SELECT * FROM datums WHERE job = $1 AND datum_id = $2" + (" FOR UPDATE" if lock else "")
    return await conn.fetchrow(sql, job_id, datum)


async def find_datums(conn: Conn, job_id: str, prefix: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM datums WHERE job = $1 AND datum_id LIKE $2 || '%' ORDER BY datum_id LIMIT 2",
        job_id, prefix.replace("%", "").replace("_", "\\_"),
    )  # fmt: skip


async def list_datums(
    conn: Conn, job_id: str, *, state: str | None, limit: int, after: str | None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM datums WHERE job = $1 AND ($2::text IS NULL OR state = $2)"
        " AND ($3::text IS NULL OR datum_id > $3) ORDER BY datum_id LIMIT $4",
        job_id, state, after, limit,
    )  # fmt: skip


async def datum_stats(conn: Conn, job_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT coalesce(sum((stats->>'download_seconds')::float8), 0) AS download_seconds,"
        " coalesce(sum((stats->>'process_seconds')::float8), 0) AS process_seconds,"
        " coalesce(sum((stats->>'upload_seconds')::float8), 0) AS upload_seconds,"
        " coalesce(sum((stats->>'download_bytes')::bigint), 0)::bigint AS download_bytes,"
        " coalesce(sum((stats->>'upload_bytes')::bigint), 0)::bigint AS upload_bytes"
        " FROM datums WHERE job = $1 AND state <> 'skipped'",
        job_id,
    )
    return dict(row)


# ---------------------------------------------------------------- commits seen


async def see_commit(conn: Conn, commit: str, repo: str, commit_set: str, branch: str | None = None) -> bool:
    """Record that commit.finished of `commit` was handled; False if it already was."""
    status = await conn.execute(
        "INSERT INTO seen_commits (commit_id, repo, commit_set, branch) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        commit, repo, commit_set, branch,
    )  # fmt: skip
    return status.endswith(" 1")


async def set_commit(conn: Conn, commit_set: str, repo: str, branch: str) -> str | None:
    """The newest seen commit of `repo@branch` in `commit_set` (None when the set did not touch it)."""
    return await conn.fetchval(
        "SELECT commit_id FROM seen_commits WHERE commit_set = $1 AND repo = $2 AND branch = $3"
        " ORDER BY seen_at DESC LIMIT 1",
        commit_set, repo, branch,
    )  # fmt: skip


async def created_job_in_set(conn: Conn, pipeline: str, commit_set: str) -> asyncpg.Record | None:
    """The job of `pipeline` in `commit_set` that has not started yet, if any."""
    return await conn.fetchrow(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE pipeline = $1 AND commit_set = $2 AND state = 'created'"
        " ORDER BY seq LIMIT 1",
        pipeline, commit_set,
    )  # fmt: skip


async def upstream_busy(conn: Conn, commit_set: str, upstream: Sequence[str]) -> str | None:
    """A pipeline of `upstream` still working on `commit_set`: a job of it in the set not done, or done
    with an output commit whose commit.finished this service has not handled yet (the jobs it starts
    downstream do not exist yet). None when all of them are through."""
    if not upstream:
        return None
    return await conn.fetchval(
        "SELECT j.pipeline FROM jobs j WHERE j.commit_set = $1 AND j.pipeline = ANY($2::text[])"
        " AND (j.state = ANY($3::text[]) OR (j.output_commit IS NOT NULL AND NOT EXISTS"
        "      (SELECT 1 FROM seen_commits s WHERE s.commit_id = j.output_commit)))"
        " LIMIT 1",
        commit_set, list(upstream), list(NOT_DONE),
    )  # fmt: skip


async def seen(conn: Conn, commits: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT commit_id FROM seen_commits WHERE commit_id = ANY($1::text[])", list(commits))
    return {r["commit_id"] for r in rows}
