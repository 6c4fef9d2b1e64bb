"""File-level lineage through a real 3-stage DAG with join and cross inputs is exact."""

from __future__ import annotations

from lineage_stack import Stack, files_at, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.wire import lineage as wl
from tusk_common.wire import pipelines as w

# joined: left /<k>-<n>.csv joined with right /<n>.txt on <n>; one output per pair.
JOINED = pipeline("joined", {"join": [pfs("left", "/*-(*).csv", join_on="$1"), pfs("right", "/(*).txt", join_on="$1")]},
                  "for f in /pfs/left/*; do n=$(basename $f .csv); n=${n#*-}; "
                  "cat $f /pfs/right/$n.txt > /pfs/out/$n.out; done")  # fmt: skip
# crossed: every joined file crossed with the params directory.
CROSSED = pipeline("crossed", {"cross": [pfs("joined", "/*"), pfs("params", "/")]},
                   "for f in /pfs/joined/*; do cat $f /pfs/params/p.json > /pfs/out/$(basename $f .out).res; done")
SUMMARY = pipeline("summary", pfs("crossed", "/"), "cat /pfs/crossed/*.res | wc -l > /pfs/out/summary")


async def test_file_lineage_through_join_cross_and_reduce_is_exact(stack: Stack):
    for repo in ("left", "right", "params"):
        await stack.repo(repo)
    for spec in (JOINED, CROSSED, SUMMARY):
        await stack.create(spec)
    left = await stack.put("left", {"/a-1.csv": "a1", "/b-2.csv": "b2", "/c-3.csv": "c3"})
    await stack.wait_set(left)
    right = await stack.put("right", {"/1.txt": "r1", "/2.txt": "r2"})  # /c-3.csv has no partner
    await stack.wait_set(right)
    params = await stack.put("params", {"/p.json": "{}", "/q.json": "[]"})
    await stack.wait_set(params)
    last = await stack.put("params", {"/p.json": '{"k": 1}'})  # the cross datums read all of params
    await stack.wait_set(last)
    await stack.caught_up()

    summary = await stack.head("summary")
    crossed = await stack.head("crossed")
    joined = await stack.head("joined")
    up = await stack.lineage_of("summary", summary.id, "/summary", depth=10)
    assert not up.graph.truncated

    # depth 2: the one reduce datum read both crossed results at the crossed commit it was given
    assert files_at(up, 2) == {("crossed", crossed.id, "/1.res"), ("crossed", crossed.id, "/2.res")}
    # depth 4: each cross datum read one joined file and the whole params directory at the new commit
    assert files_at(up, 4) == {
        ("joined", joined.id, "/1.out"), ("joined", joined.id, "/2.out"),
        ("params", last.id, "/p.json"), ("params", last.id, "/q.json"),
    }  # fmt: skip
    # depth 6: each join datum read its matching pair (c-3.csv matched nothing: it is not an input)
    assert files_at(up, 6) == {
        ("left", left.id, "/a-1.csv"), ("left", left.id, "/b-2.csv"),
        ("right", right.id, "/1.txt"), ("right", right.id, "/2.txt"),
    }  # fmt: skip
    assert len(files_at(up)) == 1 + 2 + 4 + 4
    assert params.id != last.id

    # Datum by datum: each read exactly its own inputs (no missing, no extra), and every file is the
    # version its commit holds (its content id is the one versioning gives at that commit).
    nodes = {n.key: n for n in up.graph.nodes}
    reads: dict[str, set[tuple[str, str]]] = {}
    for e in up.graph.edges:
        if e.kind == "read":
            reads.setdefault(e.src, set()).add((nodes[e.dst].repo or "", nodes[e.dst].path or ""))
    assert sorted((nodes[d].pipeline or "", sorted(files)) for d, files in reads.items()) == [
        ("crossed", [("joined", "/1.out"), ("params", "/p.json"), ("params", "/q.json")]),
        ("crossed", [("joined", "/2.out"), ("params", "/p.json"), ("params", "/q.json")]),
        ("joined", [("left", "/a-1.csv"), ("right", "/1.txt")]),
        ("joined", [("left", "/b-2.csv"), ("right", "/2.txt")]),
        ("summary", [("crossed", "/1.res"), ("crossed", "/2.res")]),
    ]  # fmt: skip
    for n in up.graph.nodes:
        if n.kind == "file":
            assert n.content_id == await stack.content_id(n.repo or "", n.commit or "", n.path or ""), n.key

    # One branch of the join, upstream of one crossed file, holds only its own pair.
    one = await stack.lineage_of("crossed", crossed.id, "/2.res")
    assert files_at(one) == {
        ("crossed", crossed.id, "/2.res"), ("joined", joined.id, "/2.out"), ("params", last.id, "/p.json"),
        ("params", last.id, "/q.json"), ("left", left.id, "/b-2.csv"), ("right", right.id, "/2.txt"),
    }  # fmt: skip
    datums = [n for n in one.graph.nodes if n.kind == "datum"]
    assert {d.pipeline for d in datums} == {"crossed", "joined"}
    assert all(d.pipeline_version and d.pipeline_version.cmd == ["sh"] for d in datums)

    # Downstream of right's /1.txt: its joined output, the crossed result, the summary, and nothing else.
    down = await stack.lineage_of("right", right.id, "/1.txt", direction="downstream")
    derived = {(r, p) for r, _c, p in files_at(down)} - {("right", "/1.txt")}
    assert ("joined", "/1.out") in derived and ("crossed", "/1.res") in derived
    assert ("summary", "/summary") in derived
    assert ("joined", "/2.out") not in derived and ("crossed", "/2.res") not in derived

    # Depth limits cut the walk and say so.
    short = await stack.lineage_of("summary", summary.id, "/summary", depth=1)
    assert short.graph.truncated and files_at(short, 2) and not files_at(short, 4)


async def test_commit_lineage_and_commit_set_and_renderings(stack: Stack):
    await stack.repo("left")
    await stack.repo("right")
    await stack.put("left", {"/a-1.csv": "a1"})
    await stack.create(JOINED)
    c = await stack.put("right", {"/1.txt": "r1"})
    await stack.wait_set(c)
    await stack.caught_up()
    out = await stack.head("joined")
    jobs = (await stack.call(w.ListJobs(pipeline="joined"))).jobs
    up = await stack.lineage_of("joined", "master")
    assert up.graph.root == f"commit:{out.id}"
    commits = {(n.repo, n.commit) for n in up.graph.nodes if n.kind == "commit"}
    assert ("right", c.id) in commits and ("joined", out.id) in commits and len(commits) == 3
    job = next(n for n in up.graph.nodes if n.kind == "job")
    assert job.pipeline == "joined" and job.job == next(j.id for j in jobs if j.output_commit == out.id)
    assert job.pipeline_version is not None and job.pipeline_version.spec_hash

    cs = await stack.call(wl.CommitSetLineage(commit_set=c.commit_set, format="tree"))
    assert {(n.repo, n.commit) for n in cs.graph.nodes if n.kind == "commit"} >= {("right", c.id), ("joined", out.id)}
    for fmt, marker in (("tree", "└── "), ("dot", "digraph lineage"), ("mermaid", "flowchart LR")):
        r = await stack.lineage_of("joined", out.id, "/1.out", fmt=fmt)
        assert r.rendered and marker in r.rendered
