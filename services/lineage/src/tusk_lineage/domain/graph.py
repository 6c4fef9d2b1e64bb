"""The provenance graph: typed nodes, `output -> input` edges, and walks upstream or downstream.

Edges always point from what was derived to what it came from:

    file  --made_by-->  datum  --read-->   file        (file level)
    commit --made_by--> job    --input-->  commit      (commit level)

so "upstream" follows edges forwards and "downstream" follows them backwards. Provenance cannot have
cycles (an output commit is always newer than its inputs), but every walk keeps a visited set anyway, so a
corrupt store can only make an answer wrong, never make it loop.

Nodes, edges and pipeline versions are the wire values of the lineage contract themselves
(`tusk_common.wire.lineage`): one definition, so an answer needs no translation on its way out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from tusk_common.wire.lineage import Direction, EdgeKind, LineageEdge, LineageGraph, LineageNode, NodeKind


def label(node: LineageNode) -> str:
    """A short human label: `repo@commit:/path`, `repo@commit`, `pipeline v2 datum 1a2b…`."""
    if node.kind == "file":
        return f"{node.repo}@{node.commit}:{node.path}"
    if node.kind == "commit":
        return f"{node.repo}@{node.commit}"
    pv = node.pipeline_version
    version = f" v{pv.version}" if pv else ""
    if node.kind == "datum":
        return f"{node.pipeline}{version} datum {(node.datum_id or '')[:12]} (job {(node.job or '')[:12]})"
    return f"{node.pipeline}{version} job {node.job}"


def commit_key(commit: str) -> str:
    return f"commit:{commit}"


def file_key(commit: str, path: str) -> str:
    return f"file:{commit}:{path}"


def datum_key(job: str, datum_id: str) -> str:
    return f"datum:{job}:{datum_id}"


def job_key(job: str) -> str:
    return f"job:{job}"


@dataclass
class Graph:
    """A provenance graph being built or read; nodes keep the smallest depth they were reached at."""

    nodes: dict[str, LineageNode] = field(default_factory=dict)
    edges: dict[tuple[str, str, EdgeKind], LineageEdge] = field(default_factory=dict)
    root: str | None = None
    direction: Direction | Literal["both"] = "upstream"
    depth_limit: int = 0
    truncated: bool = False

    def add_node(self, node: LineageNode) -> LineageNode:
        old = self.nodes.get(node.key)
        if old is None:
            self.nodes[node.key] = node
            return node
        merged = _merge(old, node)
        if node.depth < old.depth:
            merged = merged.model_copy(update={"depth": node.depth})
        self.nodes[node.key] = merged
        return merged

    def add_edge(self, src: str, dst: str, kind: EdgeKind) -> None:
        if src == dst:
            raise ValueError(f"an edge from {src} to itself would be a cycle")
        if (src, dst, kind) not in self.edges:
            self.edges[(src, dst, kind)] = LineageEdge(src=src, dst=dst, kind=kind)

    def adjacency(self, direction: Direction) -> dict[str, list[str]]:
        """Neighbours of each node in walk order (`upstream`: inputs; `downstream`: outputs)."""
        adj: dict[str, list[str]] = {}
        for e in self.edges.values():
            a, b = (e.src, e.dst) if direction == "upstream" else (e.dst, e.src)
            adj.setdefault(a, []).append(b)
        for targets in adj.values():
            targets.sort(key=self._sort_key)
        return adj

    def _sort_key(self, key: str) -> tuple[str, str]:
        node = self.nodes.get(key)
        return (label(node) if node else key, key)

    def walk(self, start: str, direction: Direction, depth: int | None = None) -> Iterator[tuple[LineageNode, int]]:
        """Breadth-first from `start`: every node reachable within `depth` hops, each once, with its hop
        count (nodes the store left out of `nodes` are skipped)."""
        adj = self.adjacency(direction)
        seen = {start}
        queue: deque[tuple[str, int]] = deque([(start, 0)])
        while queue:
            key, d = queue.popleft()
            if key in self.nodes:
                yield self.nodes[key], d
            if depth is not None and d >= depth:
                continue
            for nxt in adj.get(key, ()):
                if nxt not in seen:  # the guard against cycles, and against re-walking shared inputs
                    seen.add(nxt)
                    queue.append((nxt, d + 1))

    def subgraph(self, start: str, direction: Direction, depth: int | None = None) -> Graph:
        """The part of the graph `walk` reaches, with the edges between those nodes."""
        keep = {n.key: d for n, d in self.walk(start, direction, depth)}
        out = Graph(root=start, direction=direction, depth_limit=depth or 0)
        for key, d in keep.items():
            out.nodes[key] = self.nodes[key].model_copy(update={"depth": d})
        for k, e in self.edges.items():
            if e.src in keep and e.dst in keep:
                out.edges[k] = e
        return out

    def roots(self) -> list[LineageNode]:
        """Nodes nothing points to from below: with `upstream` edges, the sources (user data)."""
        has_inputs = {e.src for e in self.edges.values()}
        return sorted((n for n in self.nodes.values() if n.key not in has_inputs and n.kind in ("commit", "file")),
                      key=label)  # fmt: skip

    def of_kind(self, kind: NodeKind) -> list[LineageNode]:
        return sorted((n for n in self.nodes.values() if n.kind == kind), key=lambda n: (n.depth, label(n)))

    def to_wire(self) -> LineageGraph:
        """The answer: nodes by depth, kind and label; edges sorted."""
        return LineageGraph(
            root=self.root, direction=self.direction, depth=self.depth_limit, truncated=self.truncated,
            nodes=sorted(self.nodes.values(), key=lambda n: (n.depth, n.kind, label(n))),
            edges=[self.edges[k] for k in sorted(self.edges)],
        )  # fmt: skip

    def has_cycle(self) -> bool:
        """True if the edges form a cycle (never, for a graph built from a healthy store)."""
        adj = self.adjacency("upstream")
        state: dict[str, int] = {}
        for start in list(adj):
            if state.get(start):
                continue
            stack: list[tuple[str, Iterator[str]]] = [(start, iter(adj.get(start, ())))]
            state[start] = 1
            while stack:
                key, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[key] = 2
                    stack.pop()
                elif state.get(nxt) == 1:
                    return True
                elif not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, iter(adj.get(nxt, ()))))
        return False


def _merge(old: LineageNode, new: LineageNode) -> LineageNode:
    """Fill the fields `old` lacks from `new` (two reads of one node may know different things)."""
    updates = {f: getattr(new, f) for f in _FIELDS if getattr(old, f) is None and getattr(new, f) is not None}
    return old.model_copy(update=updates) if updates else old


_FIELDS = tuple(f for f in LineageNode.model_fields if f not in ("key", "kind", "depth"))
