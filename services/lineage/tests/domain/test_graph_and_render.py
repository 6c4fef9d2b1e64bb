"""The pure graph: walks with depth limits and cycle guards, and its four renderings."""

from __future__ import annotations

import json

import pytest

from tusk_common.wire.lineage import LineageNode as Node
from tusk_common.wire.lineage import PipelineVersionRef
from tusk_lineage.domain import render
from tusk_lineage.domain.graph import Graph, datum_key, file_key


def _file(commit: str, path: str, repo: str = "r") -> Node:
    return Node(key=file_key(commit, path), kind="file", repo=repo, commit=commit, path=path, content_id="c" * 20)


def chain(n: int) -> Graph:
    """f0 <- d1 <- f1 <- d2 <- ... : f_i made by datum i from f_{i-1}."""
    g = Graph(root=file_key("c0", f"/{n}"), direction="upstream", depth_limit=n)
    for i in range(n + 1):
        g.add_node(_file("c0", f"/{i}"))
    for i in range(1, n + 1):
        d = Node(key=datum_key(f"j{i}", "d"), kind="datum", pipeline=f"p{i}", job=f"j{i}", datum_id="d",
                 pipeline_version=PipelineVersionRef(pipeline=f"p{i}", version=1, cmd=["sh"]))  # fmt: skip
        g.add_node(d)
        g.add_edge(file_key("c0", f"/{i}"), d.key, "made_by")
        g.add_edge(d.key, file_key("c0", f"/{i - 1}"), "read")
    return g


def test_walks_respect_depth_and_direction():
    g = chain(5)
    up = [(n.path, d) for n, d in g.walk(file_key("c0", "/5"), "upstream", depth=2) if n.kind == "file"]
    assert up == [("/5", 0), ("/4", 2)]
    down = [n.path for n, _ in g.walk(file_key("c0", "/0"), "downstream") if n.kind == "file"]
    assert down == [f"/{i}" for i in range(6)]
    assert [n.path for n in g.roots()] == ["/0"]
    sub = g.subgraph(file_key("c0", "/5"), "upstream", depth=2)
    assert {n.path for n in sub.nodes.values() if n.kind == "file"} == {"/5", "/4"}


def test_a_cycle_in_a_corrupt_store_never_loops():
    g = chain(2)
    g.add_edge(file_key("c0", "/0"), datum_key("j2", "d"), "made_by")  # impossible in a healthy store
    assert g.has_cycle()
    assert len(list(g.walk(file_key("c0", "/2"), "upstream"))) == len(g.nodes)
    assert "(cycle)" in render.tree(g) or "(see above)" in render.tree(g)
    with pytest.raises(ValueError):
        g.add_edge("x", "x", "read")
    assert not chain(3).has_cycle()


def test_shared_inputs_print_once_in_the_tree():
    g = Graph(root=file_key("o", "/out"))
    g.add_node(_file("o", "/out"))
    shared = _file("i", "/shared")
    g.add_node(shared)
    for k in ("a", "b"):
        d = Node(key=datum_key("j", k), kind="datum", pipeline="p", job="j", datum_id=k)
        g.add_node(d)
        g.add_node(_file("m", f"/{k}"))
        g.add_edge(file_key("o", "/out"), d.key, "made_by")
        g.add_edge(d.key, file_key("m", f"/{k}"), "read")
        dd = Node(key=datum_key("j0", k), kind="datum", pipeline="q", job="j0", datum_id=k)
        g.add_node(dd)
        g.add_edge(file_key("m", f"/{k}"), dd.key, "made_by")
        g.add_edge(dd.key, shared.key, "read")
    text = render.tree(g)
    assert text.splitlines()[0].startswith("r@o:/out")
    assert text.count("r@i:/shared") == 2 and "└── " in text


def test_renderings_are_parseable_and_name_every_node():
    g = chain(2).subgraph(file_key("c0", "/2"), "upstream")
    data = json.loads(render.to_json(g))
    assert len(data["nodes"]) == len(g.nodes) and len(data["edges"]) == len(g.edges)
    assert data["nodes"][0]["key"] == g.root
    dot = render.dot(g)
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert dot.count("->") == len(g.edges) and "cmd sh" in dot
    mer = render.mermaid(g)
    assert mer.startswith("flowchart LR") and mer.count("-->|") == len(g.edges)
    quoted = Graph(root="file:c:/a")
    quoted.add_node(Node(key="file:c:/a", kind="file", repo="r", commit="c", path='/a"b'))
    assert '\\"' in render.dot(quoted) and "#quot;" in render.mermaid(quoted)


def test_nodes_keep_the_smallest_depth_and_merge_what_is_known():
    g = Graph()
    g.add_node(Node(key="k", kind="file", depth=4, repo="r"))
    merged = g.add_node(Node(key="k", kind="file", depth=2, content_id="h"))
    assert (merged.depth, merged.repo, merged.content_id) == (2, "r", "h")
