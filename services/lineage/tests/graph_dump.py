"""A canonical dump of the lineage graph (no surrogate ids), to compare two builds of it."""

from __future__ import annotations

from typing import Any

import asyncpg

QUERIES = {
    "commits": "SELECT commit_id, repo, branch, parent, commit_set, origin, state, error FROM commits",
    "versions": "SELECT c.commit_id, v.path, v.content_id, v.reproduced FROM versions v"
                " JOIN commits c ON c.lane = v.lane AND c.seq = v.seq",
    "jobs": "SELECT id, pipeline, pipeline_version, commit_set, state, output_commit, inputs::text, attached FROM jobs",
    "edges": "SELECT output, input, job FROM commit_edges",
    "runs": "SELECT job, datum_id, datum_hash, state, outputs_known FROM runs",
    "run_inputs": "SELECT r.job, r.datum_id, i.name, c.commit_id, i.path, i.content_id FROM run_inputs i"
                  " JOIN runs r ON r.id = i.run JOIN commits c ON c.lane = i.lane AND c.seq = i.seq",
    "run_outputs": "SELECT r.job, r.datum_id, o.path, o.content_id FROM run_outputs o JOIN runs r ON r.id = o.run",
    "produced": "SELECT c.commit_id, v.path, r.job, r.datum_id FROM produced p JOIN versions v ON v.id = p.version"
                " JOIN commits c ON c.lane = v.lane AND c.seq = v.seq JOIN runs r ON r.id = p.run",
    "pipeline_versions": "SELECT pipeline, version, spec_hash, transform_hash, cmd::text, image, image_digest,"
                         " spec::text, created_at FROM pipeline_versions",
}  # fmt: skip


async def dump(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with pool.acquire() as conn:
        for name, sql in QUERIES.items():
            out[name] = sorted(tuple(r) for r in await conn.fetch(sql))
    return out
