"""Writes of the provenance graph: each applies one fact idempotently inside the caller's transaction.

Idempotence is by natural keys (commit id, (lane, path, seq), (job, datum id), ...), so an event applied
twice, or a rebuild over a live graph, changes nothing the second time. Facts may arrive in any order
across replicas; a fact that needs another one first raises `Unavailable` (retryable), and the consumer
redelivers it later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from tusk_common.errors import Unavailable
from tusk_lineage.domain.facts import CommitFact, FileChange, JobFact, PipelineVersionFact, RunFact

FINAL_JOB_STATES = ("success", "failure", "killed", "unrunnable")


@dataclass(frozen=True, slots=True)
class CommitRow:
    id: int
    commit: str
    repo: str
    parent: str | None
    lane: int
    seq: int
    lane_start: bool
    recorded: bool
    state: str
    commit_set: str

    @property
    def needs_full_listing(self) -> bool:
        """A lane started below an existing commit: its first versions must list every file, not a diff."""
        return self.lane_start and self.parent is not None


def _commit_row(r: Any) -> CommitRow:
    return CommitRow(r["id"], r["commit_id"], r["repo"], r["parent"], r["lane"], r["seq"], r["lane_start"],
                     r["recorded"], r["state"], r["commit_set"])  # fmt: skip


async def get_commit(conn: asyncpg.Connection, commit: str) -> CommitRow | None:
    r = await conn.fetchrow("SELECT * FROM commits WHERE commit_id = $1", commit)
    return _commit_row(r) if r else None


async def already_applied(conn: asyncpg.Connection, event_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM applied_events WHERE event_id = $1", event_id))


async def applied_among(conn: asyncpg.Connection, event_ids: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT event_id FROM applied_events WHERE event_id = ANY($1::text[])", list(event_ids))
    return {r["event_id"] for r in rows}


async def mark_applied_many(conn: asyncpg.Connection, event_ids: Sequence[str], kind: str) -> set[str]:
    """Record the events as applied; the ids this call recorded (not those another replica did first)."""
    rows = await conn.fetch(
        "INSERT INTO applied_events (event_id, kind) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING"
        " RETURNING event_id",
        list(event_ids), kind,
    )  # fmt: skip
    return {r["event_id"] for r in rows}


async def mark_applied(conn: asyncpg.Connection, event_id: str, kind: str) -> bool:
    """Record the event as applied; False if another replica applied it first (roll back then)."""
    done = await conn.fetchval(
        "INSERT INTO applied_events (event_id, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        event_id, kind,
    )  # fmt: skip
    return bool(done)


# ---------------------------------------------------------------- commits


async def commit_known(conn: asyncpg.Connection, commit: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM commits WHERE commit_id = $1)", commit))


async def upsert_commit(conn: asyncpg.Connection, f: CommitFact) -> CommitRow:
    """Insert the commit (placing it in its parent's lane when it continues it) or move it to finished."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "tusk-lineage-commit:" + f.commit)
    row = await conn.fetchrow("SELECT * FROM commits WHERE commit_id = $1", f.commit)
    if row is not None:
        if f.state == "finished" and row["state"] != "finished":
            row = await conn.fetchrow(
                "UPDATE commits SET state = 'finished', error = $2, finished_at = $3, size_bytes = $4,"
                " file_count = $5, branch = coalesce(branch, $6) WHERE commit_id = $1 RETURNING *",
                f.commit, f.error, f.finished_at, f.size_bytes, f.file_count, f.branch,
            )  # fmt: skip
        return _commit_row(row)
    parent = await conn.fetchrow("SELECT lane, seq FROM commits WHERE commit_id = $1", f.parent) if f.parent else None
    lane_id: int | None = None
    seq = 1
    if parent is not None:
        tip = await conn.fetchval("SELECT tip_seq FROM lanes WHERE id = $1 FOR UPDATE", parent["lane"])
        if tip == parent["seq"]:
            lane_id, seq = parent["lane"], tip + 1
            await conn.execute("UPDATE lanes SET tip_seq = $2 WHERE id = $1", lane_id, seq)
    lane_start = lane_id is None
    if lane_id is None:
        # No parent, a parent we never saw, or a fork below a lane's tip (a branch reset, a deleted head):
        # a new lane, whose first commit records every file.
        lane_id = await conn.fetchval("INSERT INTO lanes (repo, branch, tip_seq) VALUES ($1, $2, 1) RETURNING id",
                                      f.repo, f.branch)  # fmt: skip
    row = await conn.fetchrow(
        "INSERT INTO commits (commit_id, repo, branch, parent, commit_set, origin, lane, seq, lane_start, state,"
        " error, started_at, finished_at, size_bytes, file_count)"
        " VALUES ($1, $2, $3, $4, coalesce((SELECT commit_set FROM jobs WHERE output_commit = $1 LIMIT 1), $5),"
        " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *",
        f.commit, f.repo, f.branch, f.parent, f.commit_set, f.origin, lane_id, seq, lane_start, f.state, f.error,
        f.started_at, f.finished_at, f.size_bytes, f.file_count,
    )  # fmt: skip
    return _commit_row(row)


async def record_versions(conn: asyncpg.Connection, c: CommitRow, changes: Sequence[FileChange]) -> int:
    """Store the file versions a finished commit introduced; returns how many were new."""
    n = 0
    if changes:
        n = len(await conn.fetch(
            "INSERT INTO versions (lane, path, seq, content_id, size)"
            " SELECT $1, p, $2, c, s FROM unnest($3::text[], $4::text[], $5::bigint[]) AS t(p, c, s)"
            " ON CONFLICT (lane, path, seq) DO NOTHING RETURNING 1",
            c.lane, c.seq, [x.path for x in changes], [x.content_id for x in changes], [x.size for x in changes],
        ))  # fmt: skip
    await conn.execute("UPDATE commits SET recorded = true WHERE id = $1", c.id)
    return n


# ---------------------------------------------------------------- pipelines and jobs


async def upsert_pipeline_version(conn: asyncpg.Connection, f: PipelineVersionFact) -> None:
    c = f.code
    await conn.execute(
        "INSERT INTO pipeline_versions (pipeline, version, spec_hash, transform_hash, cmd, image, image_digest, spec,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (pipeline, version) DO UPDATE SET"
        " spec_hash = coalesce(pipeline_versions.spec_hash, EXCLUDED.spec_hash),"
        " transform_hash = coalesce(pipeline_versions.transform_hash, EXCLUDED.transform_hash),"
        " cmd = CASE WHEN pipeline_versions.cmd = '[]'::jsonb THEN EXCLUDED.cmd ELSE pipeline_versions.cmd END,"
        " image = coalesce(pipeline_versions.image, EXCLUDED.image),"
        " image_digest = coalesce(pipeline_versions.image_digest, EXCLUDED.image_digest),"
        " spec = coalesce(pipeline_versions.spec, EXCLUDED.spec),"
        " created_at = coalesce(pipeline_versions.created_at, EXCLUDED.created_at)",
        c.pipeline, c.version, c.spec_hash, c.transform_hash, c.cmd, c.image, c.image_digest, f.spec, f.created_at,
    )  # fmt: skip


async def has_pipeline_version(conn: asyncpg.Connection, pipeline: str, version: int) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM pipeline_versions WHERE pipeline = $1 AND version = $2 AND spec_hash IS NOT NULL",
        pipeline, version,
    ))  # fmt: skip


async def upsert_job(conn: asyncpg.Connection, f: JobFact) -> None:
    """Insert or advance a job (a final state is never moved back by an older fact)."""
    inputs = None if f.inputs is None else [[i.repo, i.branch, i.commit] for i in f.inputs]
    await conn.execute(
        "INSERT INTO jobs (id, pipeline, pipeline_version, commit_set, state, reason, output_repo, output_branch,"
        " output_commit, trigger_repo, trigger_commit, inputs, created_at, finished_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        " ON CONFLICT (id) DO UPDATE SET"
        " state = CASE WHEN jobs.state = ANY($15::text[]) THEN jobs.state ELSE EXCLUDED.state END,"
        " reason = coalesce(EXCLUDED.reason, jobs.reason),"
        " output_branch = coalesce(jobs.output_branch, EXCLUDED.output_branch),"
        " output_commit = coalesce(jobs.output_commit, EXCLUDED.output_commit),"
        " trigger_repo = coalesce(jobs.trigger_repo, EXCLUDED.trigger_repo),"
        " trigger_commit = coalesce(jobs.trigger_commit, EXCLUDED.trigger_commit),"
        " inputs = coalesce(EXCLUDED.inputs, jobs.inputs),"
        " created_at = coalesce(jobs.created_at, EXCLUDED.created_at),"
        " finished_at = coalesce(EXCLUDED.finished_at, jobs.finished_at)",
        f.job, f.pipeline, f.pipeline_version, f.commit_set, f.state, f.reason, f.output_repo, f.output_branch,
        f.output_commit, f.trigger_repo, f.trigger_commit, inputs, f.created_at, f.finished_at,
        list(FINAL_JOB_STATES),
    )  # fmt: skip
    if f.output_commit is not None:
        # An output commit belongs to its job's commit set, whatever versioning recorded.
        await conn.execute("UPDATE commits SET commit_set = $2 WHERE commit_id = $1 AND commit_set <> $2",
                           f.output_commit, f.commit_set)  # fmt: skip
        if f.inputs:
            ins = [i.commit for i in f.inputs if i.commit is not None]
            await conn.execute(
                "INSERT INTO commit_edges (output, input, job) SELECT $1, i, $2 FROM unnest($3::text[]) AS t(i)"
                " ON CONFLICT DO NOTHING",
                f.output_commit, f.job, ins,
            )  # fmt: skip


async def get_job(conn: asyncpg.Connection, job: str) -> Any:
    return await conn.fetchrow("SELECT * FROM jobs WHERE id = $1", job)


# ---------------------------------------------------------------- runs


async def record_run(conn: asyncpg.Connection, f: RunFact) -> int | None:
    """Insert one processed datum with the file versions it read and the outputs it wrote; None if it
    was recorded before (the first result counts, as in the scheduler)."""
    run = await conn.fetchval(
        "INSERT INTO runs (job, datum_id, datum_hash, pipeline, state, outputs_known) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (job, datum_id) DO NOTHING RETURNING id",
        f.job, f.datum_id, f.datum_hash, f.pipeline, f.state, f.outputs is not None,
    )  # fmt: skip
    if run is None:
        return None
    if f.inputs:
        commits = sorted({i.commit for i in f.inputs})
        where = {r["commit_id"]: (r["lane"], r["seq"]) for r in await conn.fetch(
            "SELECT commit_id, lane, seq FROM commits WHERE commit_id = ANY($1::text[])", commits)}  # fmt: skip
        missing = [c for c in commits if c not in where]
        if missing:
            raise Unavailable(f"input commit {missing[0]} of datum {f.datum_id} is not recorded yet",
                              commit=missing[0])  # fmt: skip
        await conn.execute(
            "INSERT INTO run_inputs (run, name, lane, seq, path, content_id, size)"
            " SELECT $1, n, l, s, p, c, z FROM unnest($2::text[], $3::int[], $4::int[], $5::text[], $6::text[],"
            " $7::bigint[]) AS t(n, l, s, p, c, z) ON CONFLICT DO NOTHING",
            run, [i.name for i in f.inputs], [where[i.commit][0] for i in f.inputs],
            [where[i.commit][1] for i in f.inputs], [i.path for i in f.inputs], [i.content_id for i in f.inputs],
            [i.size for i in f.inputs],
        )  # fmt: skip
    if f.outputs:
        paths = sorted(f.outputs)
        await conn.execute(
            "INSERT INTO run_outputs (run, path, content_id, size)"
            " SELECT $1, p, c, s FROM unnest($2::text[], $3::text[], $4::bigint[]) AS t(p, c, s) ON CONFLICT DO NOTHING",
            run, paths, [f.outputs[p][0] for p in paths], [f.outputs[p][1] for p in paths],
        )  # fmt: skip
    return int(run)


async def record_runs(conn: asyncpg.Connection, facts: Sequence[RunFact]) -> int:
    """`record_run` for many runs of one or more jobs in a few statements (rebuild, bulk loads)."""
    if not facts:
        return 0
    rows = await conn.fetch(
        "INSERT INTO runs (job, datum_id, datum_hash, pipeline, state, outputs_known)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[])"
        " ON CONFLICT (job, datum_id) DO NOTHING RETURNING id, job, datum_id",
        [f.job for f in facts], [f.datum_id for f in facts], [f.datum_hash for f in facts],
        [f.pipeline for f in facts], [f.state for f in facts], [f.outputs is not None for f in facts],
    )  # fmt: skip
    ids = {(r["job"], r["datum_id"]): r["id"] for r in rows}
    new = [f for f in facts if (f.job, f.datum_id) in ids]
    commits = sorted({i.commit for f in new for i in f.inputs})
    where = {r["commit_id"]: (r["lane"], r["seq"]) for r in await conn.fetch(
        "SELECT commit_id, lane, seq FROM commits WHERE commit_id = ANY($1::text[])", commits)}  # fmt: skip
    missing = [c for c in commits if c not in where]
    if missing:
        raise Unavailable(f"input commit {missing[0]} is not recorded yet", commit=missing[0])
    ins = [(ids[(f.job, f.datum_id)], i) for f in new for i in f.inputs]
    await conn.execute(
        "INSERT INTO run_inputs (run, name, lane, seq, path, content_id, size)"
        " SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[], $7::bigint[])"
        " ON CONFLICT DO NOTHING",
        [r for r, _ in ins], [i.name for _, i in ins], [where[i.commit][0] for _, i in ins],
        [where[i.commit][1] for _, i in ins], [i.path for _, i in ins], [i.content_id for _, i in ins],
        [i.size for _, i in ins],
    )  # fmt: skip
    outs = [(ids[(f.job, f.datum_id)], p, c, z) for f in new for p, (c, z) in (f.outputs or {}).items()]
    await conn.execute(
        "INSERT INTO run_outputs (run, path, content_id, size)"
        " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING",
        [o[0] for o in outs], [o[1] for o in outs], [o[2] for o in outs], [o[3] for o in outs],
    )  # fmt: skip
    return len(new)


# ---------------------------------------------------------------- attaching a job's runs to its output


_OUTPUTS_AT = """
SELECT o.run, o.path, o.content_id, o.size, v.id AS version, v.seq, v.content_id AS current
FROM run_outputs o JOIN runs r ON r.id = o.run
LEFT JOIN LATERAL (
    SELECT x.id, x.seq, x.content_id FROM versions x
    WHERE x.lane = $2 AND x.path = o.path AND x.seq <= $3 ORDER BY x.seq DESC LIMIT 1
) v ON true
WHERE r.job = $1
"""


async def carry_candidates(conn: asyncpg.Connection, job: str, output_commit: str) -> list[str]:
    """Datum ids (of earlier runs) that may still produce a path this job wrote again with the same bytes:
    the caller asks the scheduler which of them are still current (skipped) in `job`."""
    c = await get_commit(conn, output_commit)
    if c is None or not c.recorded:
        return []
    rows = await conn.fetch(
        "WITH o AS (" + _OUTPUTS_AT + ")"
        " SELECT DISTINCT r2.datum_id FROM o JOIN produced p ON p.version = o.version JOIN runs r2 ON r2.id = p.run"
        " WHERE o.seq < $3 AND o.current = o.content_id"
        " AND r2.datum_id NOT IN (SELECT datum_id FROM runs WHERE job = $1)",
        job, c.lane, c.seq,
    )  # fmt: skip
    return [r["datum_id"] for r in rows]


@dataclass(frozen=True, slots=True)
class Attached:
    job: str
    output_commit: str | None
    repo: str
    files: int
    inputs: list[str]


async def attach_job(conn: asyncpg.Connection, job: str, carried: Iterable[str] = ()) -> Attached | None:
    """Link the outputs of `job`'s runs to the versions of its output commit (the files the commit really
    holds: a conflicting or unwritten output is left out). None while the job or its commit is not
    final and recorded. `carried`: earlier datum ids still current in this job (see `carry_candidates`)."""
    j = await conn.fetchrow("SELECT * FROM jobs WHERE id = $1 FOR UPDATE", job)
    if j is None or j["state"] not in FINAL_JOB_STATES:
        return None
    inputs = [f"{r}@{c}" for r, _b, c in (j["inputs"] or []) if c]
    if j["output_commit"] is None:
        await conn.execute("UPDATE jobs SET attached = true WHERE id = $1", job)
        return Attached(job, None, j["output_repo"], 0, inputs)
    c = await get_commit(conn, j["output_commit"])
    if c is None or not c.recorded:
        raise Unavailable(f"the output commit {j['output_commit']} of job {job} is not recorded yet")
    rows = await conn.fetch(_OUTPUTS_AT, job, c.lane, c.seq)
    direct_v: list[int] = []
    direct_r: list[int] = []
    again: list[Any] = []
    for r in rows:
        if r["version"] is None or r["current"] != r["content_id"]:
            continue  # not in the commit: a conflict, a failed job, or written by no one
        if r["seq"] == c.seq:
            direct_v.append(r["version"])
            direct_r.append(r["run"])
        else:
            again.append(r)
    if again:
        # Same bytes as the commit's parent had: a new version at this commit, made by this run (and by
        # the earlier producers that are still current, when two datums write the same file).
        made = await conn.fetch(
            "INSERT INTO versions (lane, path, seq, content_id, size, reproduced)"
            " SELECT $1, p, $2, c, s, true FROM unnest($3::text[], $4::text[], $5::bigint[]) AS t(p, c, s)"
            " ON CONFLICT (lane, path, seq) DO UPDATE SET reproduced = versions.reproduced RETURNING id, path",
            c.lane, c.seq, [r["path"] for r in again], [r["content_id"] for r in again], [r["size"] for r in again],
        )  # fmt: skip
        ids = {m["path"]: m["id"] for m in made}
        for r in again:
            direct_v.append(ids[r["path"]])
            direct_r.append(r["run"])
        keep = sorted(set(carried))
        if keep:
            await conn.execute(
                "INSERT INTO produced (version, run) SELECT n.id, p.run"
                " FROM unnest($1::bigint[], $2::bigint[]) AS t(old, new) JOIN versions n ON n.id = t.new"
                " JOIN produced p ON p.version = t.old JOIN runs r ON r.id = p.run AND r.datum_id = ANY($3::text[])"
                " ON CONFLICT DO NOTHING",
                [r["version"] for r in again], [ids[r["path"]] for r in again], keep,
            )  # fmt: skip
    if direct_v:
        await conn.execute(
            "INSERT INTO produced (version, run) SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING",
            direct_v, direct_r,
        )  # fmt: skip
    await conn.execute("UPDATE jobs SET attached = true WHERE id = $1", job)
    return Attached(job, c.commit, c.repo, len(set(direct_v)), inputs)


async def enqueue_openlineage(conn: asyncpg.Connection, payloads: Sequence[dict[str, Any]], max_queue: int) -> None:
    if not payloads:
        return
    await conn.execute("INSERT INTO openlineage_queue (payload) SELECT * FROM unnest($1::jsonb[])",
                       [json.loads(json.dumps(p)) for p in payloads])  # fmt: skip
    await conn.execute(
        "DELETE FROM openlineage_queue WHERE seq <= (SELECT max(seq) - $1 FROM openlineage_queue)", max_queue
    )


async def stats(conn: asyncpg.Connection) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM commits) AS commits, (SELECT count(*) FROM jobs) AS jobs,"
        " (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM versions) AS versions,"
        " (SELECT count(*) FROM run_inputs) AS run_inputs, (SELECT count(*) FROM produced) AS produced,"
        " (SELECT count(*) FROM applied_events) AS events,"
        " (SELECT count(*) FROM jobs WHERE NOT attached AND state = ANY($1::text[])) AS pending_jobs",
        list(FINAL_JOB_STATES),
    )  # fmt: skip
    return dict(row)


TABLES = ("produced", "run_outputs", "run_inputs", "runs", "commit_edges", "jobs", "pipeline_versions",
          "versions", "commits", "lanes", "applied_events")  # fmt: skip


async def wipe(conn: asyncpg.Connection) -> None:
    """Empty the graph (rebuild starts from nothing)."""
    await conn.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY")
