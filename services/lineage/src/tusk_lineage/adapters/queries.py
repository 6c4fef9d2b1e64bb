"""Reads of the provenance graph: one recursive CTE per walk, then one batch of detail lookups.

File level, upstream: from a file at a commit, the newest version of its path in the commit's lane at or
before the commit (one backward probe of `versions (lane, path, seq)`), the runs that produced that
version, and the exact file versions those runs read; repeated per hop. Downstream: the runs that read
the version (any read between it and the path's next version), the versions they produced, and so on.
Commit level: `commit_edges` forwards or backwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from tusk_common.wire.lineage import LineageNode, PipelineVersionRef
from tusk_lineage.domain.graph import Direction, Graph, commit_key, datum_key, file_key, job_key
from tusk_lineage.domain.openlineage import FileLink

NEVER = 2_147_483_647

FILE_UPSTREAM = """
WITH RECURSIVE walk(o_lane, o_path, o_seq, version, run, i_name, i_lane, i_path, i_seq, i_content, i_size, depth) AS (
    SELECT $1::int, $2::text, $3::int, v.id, p.run, ri.name, ri.lane, ri.path, ri.seq, ri.content_id, ri.size, 1
    FROM (SELECT x.id FROM versions x WHERE x.lane = $1 AND x.path = $2 AND x.seq <= $3
          ORDER BY x.seq DESC LIMIT 1) v
    JOIN produced p ON p.version = v.id
    JOIN run_inputs ri ON ri.run = p.run
  UNION
    SELECT w.i_lane, w.i_path, w.i_seq, v.id, p.run, ri.name, ri.lane, ri.path, ri.seq, ri.content_id, ri.size,
           w.depth + 1
    FROM walk w
    CROSS JOIN LATERAL (SELECT x.id FROM versions x WHERE x.lane = w.i_lane AND x.path = w.i_path
                        AND x.seq <= w.i_seq ORDER BY x.seq DESC LIMIT 1) v
    JOIN produced p ON p.version = v.id
    JOIN run_inputs ri ON ri.run = p.run
    WHERE w.depth < $4
)
SELECT w.depth, w.run, r.job, r.datum_id, r.datum_hash, r.pipeline,
       oc.commit_id AS o_commit, oc.repo AS o_repo, w.o_path, vo.content_id AS o_content, vo.size AS o_size,
       ic.commit_id AS i_commit, ic.repo AS i_repo, w.i_path, w.i_content, w.i_size
FROM walk w
JOIN commits oc ON oc.lane = w.o_lane AND oc.seq = w.o_seq
JOIN commits ic ON ic.lane = w.i_lane AND ic.seq = w.i_seq
JOIN versions vo ON vo.id = w.version
JOIN runs r ON r.id = w.run
"""

FILE_DOWNSTREAM = """
WITH RECURSIVE walk(i_lane, i_path, i_vseq, run, o_version, o_lane, o_path, o_seq, depth) AS (
    SELECT ri.lane, ri.path, v0.seq, ri.run, p.version, vo.lane, vo.path, vo.seq, 1
    FROM (SELECT x.seq FROM versions x WHERE x.lane = $1 AND x.path = $2 AND x.seq <= $3
          AND x.content_id IS NOT NULL ORDER BY x.seq DESC LIMIT 1) v0
    CROSS JOIN LATERAL (SELECT coalesce(min(x.seq), $5::int) AS seq FROM versions x
                        WHERE x.lane = $1 AND x.path = $2 AND x.seq > v0.seq) nx
    JOIN run_inputs ri ON ri.lane = $1 AND ri.path = $2 AND ri.seq >= v0.seq AND ri.seq < nx.seq
    JOIN produced p ON p.run = ri.run
    JOIN versions vo ON vo.id = p.version
  UNION
    SELECT ri.lane, ri.path, w.o_seq, ri.run, p.version, vo.lane, vo.path, vo.seq, w.depth + 1
    FROM walk w
    CROSS JOIN LATERAL (SELECT coalesce(min(x.seq), $5::int) AS seq FROM versions x
                        WHERE x.lane = w.o_lane AND x.path = w.o_path AND x.seq > w.o_seq) nx
    JOIN run_inputs ri ON ri.lane = w.o_lane AND ri.path = w.o_path AND ri.seq >= w.o_seq AND ri.seq < nx.seq
    JOIN produced p ON p.run = ri.run
    JOIN versions vo ON vo.id = p.version
    WHERE w.depth < $4
)
SELECT DISTINCT w.depth, w.run, r.job, r.datum_id, r.datum_hash, r.pipeline,
       ic.commit_id AS i_commit, ic.repo AS i_repo, w.i_path, vi.content_id AS i_content, vi.size AS i_size,
       oc.commit_id AS o_commit, oc.repo AS o_repo, w.o_path, vo.content_id AS o_content, vo.size AS o_size
FROM walk w
JOIN commits ic ON ic.lane = w.i_lane AND ic.seq = w.i_vseq
JOIN versions vi ON vi.lane = w.i_lane AND vi.path = w.i_path AND vi.seq = w.i_vseq
JOIN commits oc ON oc.lane = w.o_lane AND oc.seq = w.o_seq
JOIN versions vo ON vo.id = w.o_version
JOIN runs r ON r.id = w.run
"""

COMMIT_UPSTREAM = """
WITH RECURSIVE walk(output, input, job, depth) AS (
    SELECT e.output, e.input, e.job, 1 FROM commit_edges e WHERE e.output = $1
  UNION
    SELECT e.output, e.input, e.job, w.depth + 1 FROM walk w JOIN commit_edges e ON e.output = w.input
    WHERE w.depth < $2
)
SELECT output, input, job, min(depth) AS depth FROM walk GROUP BY output, input, job
"""

COMMIT_DOWNSTREAM = """
WITH RECURSIVE walk(output, input, job, depth) AS (
    SELECT e.output, e.input, e.job, 1 FROM commit_edges e WHERE e.input = $1
  UNION
    SELECT e.output, e.input, e.job, w.depth + 1 FROM walk w JOIN commit_edges e ON e.input = w.output
    WHERE w.depth < $2
)
SELECT output, input, job, min(depth) AS depth FROM walk GROUP BY output, input, job
"""


async def file_version(conn: asyncpg.Connection, lane: int, path: str, seq: int) -> Any:
    """The version of `path` at (lane, seq): the newest at or before it; None if never there."""
    return await conn.fetchrow(
        "SELECT id, seq, content_id, size FROM versions WHERE lane = $1 AND path = $2 AND seq <= $3"
        " ORDER BY seq DESC LIMIT 1",
        lane, path, seq,
    )  # fmt: skip


async def file_walk(conn: asyncpg.Connection, lane: int, path: str, seq: int, direction: Direction,
                    depth: int) -> list[Any]:  # fmt: skip
    """The edge rows of a file walk, one hop deeper than asked (to tell whether it was truncated)."""
    if direction == "upstream":
        return await conn.fetch(FILE_UPSTREAM, lane, path, seq, depth + 1)
    return await conn.fetch(FILE_DOWNSTREAM, lane, path, seq, depth + 1, NEVER)


async def commit_walk(conn: asyncpg.Connection, commit: str, direction: Direction, depth: int) -> list[Any]:
    sql = COMMIT_UPSTREAM if direction == "upstream" else COMMIT_DOWNSTREAM
    return await conn.fetch(sql, commit, depth + 1)


async def commit_set_rows(conn: asyncpg.Connection, commit_set: str) -> tuple[list[Any], list[Any]]:
    """The commits of a set (and their edges, whose inputs may lie outside it)."""
    commits = await conn.fetch("SELECT commit_id FROM commits WHERE commit_set = $1", commit_set)
    ids = [r["commit_id"] for r in commits]
    outputs = ids + [r["output_commit"] for r in await conn.fetch(
        "SELECT output_commit FROM jobs WHERE commit_set = $1 AND output_commit IS NOT NULL", commit_set)]  # fmt: skip
    edges = await conn.fetch(
        "SELECT output, input, job, 1 AS depth FROM commit_edges WHERE output = ANY($1::text[])", sorted(set(outputs))
    )
    return commits, edges


# ---------------------------------------------------------------- details of the nodes reached


async def commit_nodes(conn: asyncpg.Connection, commits: Sequence[str]) -> dict[str, LineageNode]:
    rows = await conn.fetch("SELECT * FROM commits WHERE commit_id = ANY($1::text[])", list(set(commits)))
    return {r["commit_id"]: LineageNode(
        key=commit_key(r["commit_id"]), kind="commit", repo=r["repo"], commit=r["commit_id"], branch=r["branch"],
        commit_set=r["commit_set"], origin=r["origin"], state=r["state"], error=r["error"],
    ) for r in rows}  # fmt: skip


async def job_nodes(conn: asyncpg.Connection, jobs: Sequence[str]) -> dict[str, LineageNode]:
    rows = await conn.fetch(
        "SELECT j.*, v.spec_hash, v.transform_hash, v.cmd, v.image, v.image_digest FROM jobs j"
        " LEFT JOIN pipeline_versions v ON v.pipeline = j.pipeline AND v.version = j.pipeline_version"
        " WHERE j.id = ANY($1::text[])",
        list(set(jobs)),
    )  # fmt: skip
    return {r["id"]: LineageNode(
        key=job_key(r["id"]), kind="job", pipeline=r["pipeline"], job=r["id"], state=r["state"],
        commit_set=r["commit_set"], error=r["reason"] if r["state"] != "success" else None,
        pipeline_version=_code(r, r["pipeline_version"]),
    ) for r in rows}  # fmt: skip


def _code(r: Any, version: int) -> PipelineVersionRef:
    return PipelineVersionRef(pipeline=r["pipeline"], version=version, spec_hash=r["spec_hash"],
                              transform_hash=r["transform_hash"], cmd=r["cmd"] or [], image=r["image"],
                              image_digest=r["image_digest"])  # fmt: skip


async def codes(conn: asyncpg.Connection, jobs: Sequence[str]) -> dict[str, PipelineVersionRef]:
    """The pipeline version each job ran."""
    nodes = await job_nodes(conn, jobs)
    return {k: n.pipeline_version for k, n in nodes.items() if n.pipeline_version is not None}


async def code(conn: asyncpg.Connection, pipeline: str, version: int) -> PipelineVersionRef | None:
    """One pipeline version's code, if it is recorded."""
    r = await conn.fetchrow("SELECT * FROM pipeline_versions WHERE pipeline = $1 AND version = $2", pipeline, version)
    return None if r is None else _code(r, version)


def graph_from_file_rows(rows: Sequence[Any], root: LineageNode, direction: Direction, depth: int,
                         code_of: dict[str, PipelineVersionRef]) -> Graph:  # fmt: skip
    """Nodes and edges of a file walk (rows from `file_walk`)."""
    g = Graph(root=root.key, direction=direction, depth_limit=depth)
    g.add_node(root)
    for r in rows:
        if r["depth"] > depth:
            g.truncated = True
            continue
        run = LineageNode(key=datum_key(r["job"], r["datum_id"]), kind="datum", pipeline=r["pipeline"],
                          job=r["job"], datum_id=r["datum_id"], datum_hash=r["datum_hash"],
                          pipeline_version=code_of.get(r["job"]), depth=(2 * r["depth"] - 1))  # fmt: skip
        o_key = file_key(r["o_commit"], r["o_path"])
        i_key = file_key(r["i_commit"], r["i_path"])
        if direction == "upstream":
            o_depth, i_depth = 2 * (r["depth"] - 1), 2 * r["depth"]
            if r["depth"] == 1:
                o_key = root.key
        else:
            o_depth, i_depth = 2 * r["depth"], 2 * (r["depth"] - 1)
            if r["depth"] == 1:
                i_key = root.key
        g.add_node(LineageNode(key=o_key, kind="file", repo=r["o_repo"], commit=r["o_commit"], path=r["o_path"],
                               content_id=r["o_content"], size=r["o_size"], depth=o_depth))  # fmt: skip
        g.add_node(LineageNode(key=i_key, kind="file", repo=r["i_repo"], commit=r["i_commit"], path=r["i_path"],
                               content_id=r["i_content"], size=r["i_size"], depth=i_depth))  # fmt: skip
        g.add_node(run)
        g.add_edge(o_key, run.key, "made_by")
        g.add_edge(run.key, i_key, "read")
    return g


def add_commit_rows(g: Graph, rows: Sequence[Any], depth: int, commits: dict[str, LineageNode],
                    jobs: dict[str, LineageNode]) -> None:  # fmt: skip
    """Commit-level edges (output -made_by-> job -input-> input commit) into `g`."""
    for r in rows:
        if r["depth"] > depth:
            g.truncated = True
            continue
        out, inp = commits.get(r["output"]), commits.get(r["input"])
        if out is None or inp is None:
            continue
        d = r["depth"]
        up = g.direction != "downstream"
        g.add_node(_at(out, 2 * (d - 1) if up else 2 * d))
        g.add_node(_at(inp, 2 * d if up else 2 * (d - 1)))
        jnode = jobs.get(r["job"]) or LineageNode(key=job_key(r["job"]), kind="job", job=r["job"])
        g.add_node(_at(jnode, 2 * d - 1))
        g.add_edge(out.key, jnode.key, "made_by")
        g.add_edge(jnode.key, inp.key, "input")


def _at(n: LineageNode, depth: int) -> LineageNode:
    return n.model_copy(update={"depth": depth})


async def job_files(conn: asyncpg.Connection, job: str, limit: int) -> tuple[list[FileLink], int]:
    """The files `job` produced in its output commit with the exact inputs of their datums (at most
    `limit` files), and how many there are in all."""
    j = await conn.fetchrow("SELECT j.output_commit, c.lane, c.seq FROM jobs j JOIN commits c"
                            " ON c.commit_id = j.output_commit WHERE j.id = $1", job)  # fmt: skip
    if j is None:
        return [], 0
    total = await conn.fetchval(
        "SELECT count(DISTINCT v.id) FROM runs r JOIN produced p ON p.run = r.id JOIN versions v ON v.id = p.version"
        " WHERE r.job = $1 AND v.lane = $2 AND v.seq = $3",
        job, j["lane"], j["seq"],
    )  # fmt: skip
    rows = await conn.fetch(
        "WITH f AS (SELECT DISTINCT v.id, v.path, v.content_id, v.size FROM runs r JOIN produced p ON p.run = r.id"
        " JOIN versions v ON v.id = p.version WHERE r.job = $1 AND v.lane = $2 AND v.seq = $3"
        " ORDER BY v.path LIMIT $4)"
        " SELECT f.path, f.content_id, f.size, c.repo, c.commit_id, ri.path AS i_path, ri.content_id AS i_content"
        " FROM f JOIN produced p ON p.version = f.id JOIN runs r ON r.id = p.run AND r.job = $1"
        " JOIN run_inputs ri ON ri.run = r.id JOIN commits c ON c.lane = ri.lane AND c.seq = ri.seq"
        " ORDER BY f.path, c.repo, ri.path",
        job, j["lane"], j["seq"], limit,
    )  # fmt: skip
    by_path: dict[str, tuple[str | None, int, list[tuple[str, str, str, str]]]] = {}
    for r in rows:
        entry = by_path.setdefault(r["path"], (r["content_id"], r["size"], []))
        link = (r["repo"], r["commit_id"], r["i_path"], r["i_content"])
        if link not in entry[2]:
            entry[2].append(link)
    return [FileLink(p, c, s, tuple(i)) for p, (c, s, i) in by_path.items()], int(total or 0)
