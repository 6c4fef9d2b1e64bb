"""The provenance graph: typed nodes, `output -> input` edges, and walks upstream or downstream.

Edges always point from what was derived to what it came from:

    file  --made_by-->  datum  --read-->   file        (file level)
    commit --made_by--> job    --input-->  commit      (commit level)

so "upstream" follows edges forwards and "downstream" follows them backwards. Provenance cannot have
cycles (an output commit is always newer than its inputs), but every walk keeps a visited set anyway, so a
corrupt store can only make an answer wrong, never make it loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

NodeKind = Literal["commit", "file", "datum", "job"]
EdgeKind = Literal["input", "made_by", "read"]
Direction = Literal["upstream", "downstream"]


@dataclass(frozen=True, slots=True)
class Code:
    """The pipeline version that made an output: what `tusk reproduce` needs to run it again."""

    pipeline: str
    version: int
    spec_hash: str | None = None
    transform_hash: str | None = None
    cmd: tuple[str, ...] = ()
    image: str | None = None
    image_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the graph; `key` is unique and stable (see the `*_key` functions)."""

    key: str
    kind: NodeKind
    depth: int = 0
    repo: str | None = None
    commit: str | None = None
    branch: str | None = None
    path: str | None = None
    content_id: str | None = None
    size: int | None = None
    commit_set: str | None = None
    origin: str | None = None
    state: str | None = None
    error: str | None = None
    pipeline: str | None = None
    job: str | None = None
    datum_id: str | None = None
    datum_hash: str | None = None
    code: Code | None = None

    def label(self) -> str:
        """A short human label: `repo@commit:/path`, `repo@commit`, `pipeline v2 datum 1a2b…`."""
        if self.kind == "file":
            return f"{self.repo}@{self.commit}:{self.path}"
        if self.kind == "commit":
            return f"{self.repo}@{self.commit}"
        version = f" v{self.code.version}" if self.code else ""
        if self.kind == "datum":
            return f"{self.pipeline}{version} datum {(self.datum_id or '')[:12]} (job {(self.job or '')[:12]})"
        return f"{self.pipeline}{version} job {self.job}"


@dataclass(frozen=True, slots=True)
class Edge:
    src: str  # derived
    dst: str  # came from
    kind: EdgeKind


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

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str, EdgeKind], Edge] = field(default_factory=dict)
    root: str | None = None
    direction: Direction | Literal["both"] = "upstream"
    depth_limit: int = 0
    truncated: bool = False

    def add_node(self, node: Node) -> Node:
        old = self.nodes.get(node.key)
        if old is None:
            self.nodes[node.key] = node
            return node
        if node.depth < old.depth:
            self.nodes[node.key] = merged = replace(_merge(old, node), depth=node.depth)
            return merged
        self.nodes[node.key] = merged = _merge(old, node)
        return merged

    def add_edge(self, src: str, dst: str, kind: EdgeKind) -> None:
        if src == dst:
            raise ValueError(f"an edge from {src} to itself would be a cycle")
        self.edges.setdefault((src, dst, kind), Edge(src, dst, kind))

    def out_edges(self, key: str) -> list[Edge]:
        return [e for e in self.edges.values() if e.src == key]

    def in_edges(self, key: str) -> list[Edge]:
        return [e for e in self.edges.values() if e.dst == key]

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
        return (node.label() if node else key, key)

    def walk(self, start: str, direction: Direction, depth: int | None = None) -> Iterator[tuple[Node, int]]:
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
            out.nodes[key] = replace(self.nodes[key], depth=d)
        for k, e in self.edges.items():
            if e.src in keep and e.dst in keep:
                out.edges[k] = e
        return out

    def roots(self) -> list[Node]:
        """Nodes nothing points to from below: with `upstream` edges, the sources (user data)."""
        has_inputs = {e.src for e in self.edges.values()}
        return sorted((n for n in self.nodes.values() if n.key not in has_inputs and n.kind in ("commit", "file")),
                      key=lambda n: n.label())  # fmt: skip

    def of_kind(self, kind: NodeKind) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.kind == kind), key=lambda n: (n.depth, n.label()))

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


def _merge(old: Node, new: Node) -> Node:
    """Fill the fields `old` lacks from `new` (two reads of one node may know different things)."""
    updates = {f: getattr(new, f) for f in _FIELDS if getattr(old, f) is None and getattr(new, f) is not None}
    return replace(old, **updates) if updates else old


_FIELDS = tuple(f for f in Node.__slots__ if f not in ("key", "kind", "depth"))


def build(nodes: Iterable[Node], edges: Iterable[Edge], **meta: object) -> Graph:
    g = Graph(**meta)  # type: ignore[arg-type]
    for n in nodes:
        g.add_node(n)
    for e in edges:
        g.add_edge(e.src, e.dst, e.kind)
    return g
