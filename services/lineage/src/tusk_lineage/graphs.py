"""Use cases of the queries: resolve what was asked about, walk the graph, render it."""

from __future__ import annotations

from tusk_common import naming
from tusk_common.errors import NotFound
from tusk_common.wire import lineage as wl
from tusk_lineage.adapters import queries, store
from tusk_lineage.deps import Deps
from tusk_lineage.domain import render
from tusk_lineage.domain.graph import Direction, Graph, commit_key, file_key


async def resolve_commit(deps: Deps, repo: str, ref: str) -> store.CommitRow:
    """The commit `ref` names: a commit id the graph knows answers without asking versioning (commits are
    immutable); a branch or `^N` is resolved by versioning."""
    naming.check_name(repo, field="repo")
    naming.split_ref(ref)
    if naming.is_commit_id(ref):
        async with deps.pool.acquire() as conn:
            row = await store.get_commit(conn, ref)
        if row is not None and row.repo == repo:
            return row
    info = await deps.sources.inspect_commit(repo, ref)
    async with deps.pool.acquire() as conn:
        row = await store.get_commit(conn, info.id)
    if row is None:
        raise NotFound(f"commit {repo}@{info.id} is not in the lineage graph yet", repo=repo, commit=info.id)
    return row


async def query(deps: Deps, req: wl.QueryLineage) -> wl.LineageReply:
    c = await resolve_commit(deps, req.repo, req.ref)
    if req.path is None or req.path == "/":
        graph = await commit_graph(deps, c, req.direction, req.depth)
    else:
        graph = await file_graph(deps, c, naming.normalize_path(req.path), req.direction, req.depth)
    return reply(graph, req.format)


async def commit_graph(deps: Deps, c: store.CommitRow, direction: Direction, depth: int) -> Graph:
    async with deps.pool.acquire() as conn:
        rows = await queries.commit_walk(conn, c.commit, direction, depth)
        commits = await queries.commit_nodes(conn, [c.commit] + [r["output"] for r in rows] + [r["input"] for r in rows])
        jobs = await queries.job_nodes(conn, [r["job"] for r in rows])
    g = Graph(root=commit_key(c.commit), direction=direction, depth_limit=depth)
    g.add_node(commits[c.commit])
    queries.add_commit_rows(g, rows, depth, commits, jobs)
    return g


async def file_graph(deps: Deps, c: store.CommitRow, path: str, direction: Direction, depth: int) -> Graph:
    async with deps.pool.acquire() as conn:
        version = await queries.file_version(conn, c.lane, path, c.seq)
        if version is None or version["content_id"] is None:
            state = "not recorded yet" if not c.recorded else "not in it"
            raise NotFound(f"{path} is {state}: {c.repo}@{c.commit}", repo=c.repo, commit=c.commit, path=path)
        rows = await queries.file_walk(conn, c.lane, path, c.seq, direction, depth)
        codes = await queries.codes(conn, sorted({r["job"] for r in rows}))
    root = wl.LineageNode(key=file_key(c.commit, path), kind="file", repo=c.repo, commit=c.commit, path=path,
                          content_id=version["content_id"], size=version["size"])  # fmt: skip
    return queries.graph_from_file_rows(rows, root, direction, depth, codes)


async def commit_set(deps: Deps, req: wl.CommitSetLineage) -> wl.LineageReply:
    async with deps.pool.acquire() as conn:
        members, rows = await queries.commit_set_rows(conn, req.commit_set)
        if not members and not rows:
            raise NotFound(f"commit set {req.commit_set} is not in the lineage graph", commit_set=req.commit_set)
        ids = [r["commit_id"] for r in members] + [r["output"] for r in rows] + [r["input"] for r in rows]
        commits = await queries.commit_nodes(conn, ids)
        jobs = await queries.job_nodes(conn, [r["job"] for r in rows])
    g = Graph(root=None, direction="both", depth_limit=1)
    for r in members:
        g.add_node(commits[r["commit_id"]])
    queries.add_commit_rows(g, rows, 1, commits, jobs)
    return reply(g, req.format)


def reply(g: Graph, fmt: str) -> wl.LineageReply:
    return wl.LineageReply(graph=g.to_wire(), rendered=None if fmt == "json" else render.render(g, fmt))
