"""A provenance graph as text: an indented tree for terminals, JSON, Graphviz DOT and Mermaid.

The tree prints a node reached again through another path as `(see above)` instead of repeating its
whole subtree, so a DAG with shared inputs stays readable and finite.
"""

from __future__ import annotations

from tusk_common.wire.lineage import LineageNode
from tusk_lineage.domain.graph import Direction, Graph, label

_SHAPES = {"commit": "box", "file": "note", "datum": "ellipse", "job": "component"}


def describe(node: LineageNode) -> str:
    """The label plus what matters about the node: code of a job or datum, content of a file."""
    text = label(node)
    extra: list[str] = []
    if node.kind == "file" and node.content_id:
        extra.append(f"content {node.content_id[:12]}")
    pv = node.pipeline_version
    if node.kind in ("job", "datum") and pv is not None:
        if pv.cmd:
            extra.append("cmd " + " ".join(pv.cmd))
        if pv.image:
            extra.append(f"image {pv.image}")
        if pv.spec_hash:
            extra.append(f"spec {pv.spec_hash[:12]}")
    if node.kind in ("commit", "job") and node.state and node.state not in ("finished", "success"):
        extra.append(node.state)
    if node.error:
        extra.append(f"error: {node.error}")
    return f"{text} [{', '.join(extra)}]" if extra else text


def tree(graph: Graph, direction: Direction | None = None) -> str:
    """The graph from its root as an indented tree (`└──`), depth first in label order."""
    if graph.root is None or graph.root not in graph.nodes:
        return "\n".join(describe(n) for n in graph.of_kind("commit"))
    way: Direction = direction or ("upstream" if graph.direction == "both" else graph.direction)
    adj = graph.adjacency(way)
    lines = [describe(graph.nodes[graph.root])]
    shown = {graph.root}

    def visit(key: str, prefix: str, path: set[str]) -> None:
        children = [c for c in adj.get(key, ()) if c in graph.nodes]
        for i, child in enumerate(children):
            last = i == len(children) - 1
            branch, indent = ("└── ", "    ") if last else ("├── ", "│   ")
            if child in path:  # a cycle: impossible by construction, never followed
                lines.append(f"{prefix}{branch}{describe(graph.nodes[child])} (cycle)")
                continue
            if child in shown and adj.get(child):
                lines.append(f"{prefix}{branch}{describe(graph.nodes[child])} (see above)")
                continue
            shown.add(child)
            lines.append(f"{prefix}{branch}{describe(graph.nodes[child])}")
            visit(child, prefix + indent, path | {child})

    visit(graph.root, "", {graph.root})
    if graph.truncated:
        lines.append(f"(depth limit {graph.depth_limit} reached: ask with a larger --depth to see more)")
    return "\n".join(lines)


def to_json(graph: Graph) -> str:
    return graph.to_wire().model_dump_json(indent=2, exclude_none=True)


def _ids(graph: Graph) -> dict[str, str]:
    """Short identifiers for DOT and Mermaid (`n0`, `n1`, ...), in a stable order."""
    ordered = sorted(graph.nodes.values(), key=lambda n: (n.depth, n.kind, label(n), n.key))
    return {n.key: f"n{i}" for i, n in enumerate(ordered)}


def dot(graph: Graph) -> str:
    """Graphviz: `dot -Tsvg`; edges drawn from inputs to outputs, as data flows."""
    ids = _ids(graph)
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for key, ident in ids.items():
        n = graph.nodes[key]
        style = ', style="bold"' if key == graph.root else ""
        lines.append(f'  {ident} [shape={_SHAPES[n.kind]}, label="{_dot_escape(describe(n))}"{style}];')
    for e in sorted(graph.edges.values(), key=lambda e: (ids.get(e.dst, ""), ids.get(e.src, ""))):
        if e.src in ids and e.dst in ids:
            lines.append(f'  {ids[e.dst]} -> {ids[e.src]} [label="{e.kind}"];')
    lines.append("}")
    return "\n".join(lines)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_MERMAID_SHAPES = {"commit": ("[", "]"), "file": ("[/", "/]"), "datum": ("([", "])"), "job": ("[[", "]]")}


def mermaid(graph: Graph) -> str:
    """Mermaid `flowchart LR`, inputs on the left."""
    ids = _ids(graph)
    lines = ["flowchart LR"]
    for key, ident in ids.items():
        n = graph.nodes[key]
        left, right = _MERMAID_SHAPES[n.kind]
        lines.append(f'  {ident}{left}"{_mermaid_escape(describe(n))}"{right}')
    for e in sorted(graph.edges.values(), key=lambda e: (ids.get(e.dst, ""), ids.get(e.src, ""))):
        if e.src in ids and e.dst in ids:
            lines.append(f"  {ids[e.dst]} -->|{e.kind}| {ids[e.src]}")
    if graph.root in ids:
        lines.append(f"  style {ids[graph.root]} stroke-width:3px")
    return "\n".join(lines)


def _mermaid_escape(text: str) -> str:
    return text.replace('"', "#quot;")


def render(graph: Graph, fmt: str) -> str:
    if fmt == "tree":
        return tree(graph)
    if fmt == "dot":
        return dot(graph)
    if fmt == "mermaid":
        return mermaid(graph)
    if fmt == "json":
        return to_json(graph)
    raise ValueError(f"unknown format {fmt!r}")
