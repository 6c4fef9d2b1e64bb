"""Immutable, content-addressed directory nodes and their canonical paging.

A directory is a node hashed with BLAKE3 over its canonical JSON serialization. Small directories
(at most `INLINE_MAX` entries) are one `Leaf` holding every entry. Larger ones are cut into pages
(each a `Leaf`) by content-defined boundaries on the entry *name*: a page ends after an entry whose
name's BLAKE3 is 0 mod `PAGE_SPLIT`, or when it holds `PAGE_MAX` entries. The page refs are held by
an `Index`; when there are more than `INDEX_MAX` of them, they are cut the same way (the cut depends
on the level and the ref's first name) into level-1 index nodes, and so on up to one root index: a
B-tree whose shape depends only on the entries. So the same entries always give the same hash, and
an edit rewrites only the touched page(s) and one index node per level.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from blake3 import blake3

INLINE_MAX = 256
INDEX_MAX = 256
PAGE_SPLIT = 128
PAGE_MAX = 1024

Kind = Literal["file", "dir"]


Meta = tuple[tuple[str, str], ...]  # a file's metadata: (key, value) pairs sorted by key, no key twice


def meta_of(mapping: dict[str, str] | None) -> Meta:
    """The canonical form of a metadata map (sorted pairs; None and {} are both empty)."""
    return tuple(sorted(mapping.items())) if mapping else ()


class Entry(NamedTuple):
    """One name in a directory: a file (hash = content id) or a directory (hash = its node hash).

    A file's `meta` (content type, user metadata, ...) is part of the entry, so of the directory's hash:
    the same bytes with other metadata are another file. Directories have none.
    """

    name: str
    kind: Kind
    hash: str
    size: int
    files: int  # files below; 1 for a file
    meta: Meta = ()

    def same(self, other: Entry) -> bool:
        """Whether two entries are the same file or directory (the name aside)."""
        return self.kind == other.kind and self.hash == other.hash and self.meta == other.meta


class PageRef(NamedTuple):
    """One child of an index: a page (level 1) or a lower index node, by its first name."""

    first: str
    hash: str
    size: int
    files: int
    n: int  # directory entries below it


def _name_key(e: Entry) -> str:
    return e.name


def _first_key(p: PageRef) -> str:
    return p.first


@dataclass(frozen=True, slots=True)
class Leaf:
    """A whole small directory, or one page of a large one."""

    entries: tuple[Entry, ...]
    size: int = field(default=0)
    files: int = field(default=0)

    @classmethod
    def of(cls, entries: Sequence[Entry]) -> Leaf:
        return cls(tuple(entries), sum(e.size for e in entries), sum(e.files for e in entries))

    @property
    def n(self) -> int:
        return len(self.entries)

    def find(self, name: str) -> Entry | None:
        i = bisect.bisect_left(self.entries, name, key=_name_key)
        if i < len(self.entries) and self.entries[i].name == name:
            return self.entries[i]
        return None

    def start(self, after: str | None) -> int:
        """Index of the first entry whose name sorts after `after` (0 for None)."""
        return 0 if after is None else bisect.bisect_right(self.entries, after, key=_name_key)


@dataclass(frozen=True, slots=True)
class Index:
    """An index node of a large directory: refs to pages (level 1) or to level-1 nodes (level 2)..."""

    level: int
    pages: tuple[PageRef, ...]
    size: int = field(default=0)
    files: int = field(default=0)
    n: int = field(default=0)

    @classmethod
    def of(cls, level: int, pages: Sequence[PageRef]) -> Index:
        return cls(
            level,
            tuple(pages),
            sum(p.size for p in pages),
            sum(p.files for p in pages),
            sum(p.n for p in pages),
        )

    def page_of(self, name: str) -> int:
        """The child a name lives in (or would be inserted into)."""
        return max(bisect.bisect_right(self.pages, name, key=_first_key) - 1, 0)


Node = Leaf | Index


def level_of(node: Node) -> int:
    return node.level if isinstance(node, Index) else 0


def _row(e: Entry) -> tuple[Any, ...]:
    # A file with metadata gets a sixth element, an object whose keys are in sorted order; without
    # metadata the row stays five elements long, so such nodes cost nothing extra.
    return (*e[:5], dict(e.meta)) if e.meta else e[:5]


def encode(node: Node) -> bytes:
    """Canonical bytes: `["d", [[name, kind, hash, size, files(, {meta})], ...]]` or `["i", level,
    [[first, hash, size, files, n], ...]]`, compact JSON in UTF-8 (named tuples encode as arrays)."""
    if isinstance(node, Leaf):
        body: list[Any] = ["d", [_row(e) for e in node.entries]]
    else:
        body = ["i", node.level, node.pages]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _entry(r: list[Any]) -> Entry:
    if len(r) == 6:
        return Entry(r[0], r[1], r[2], r[3], r[4], tuple(r[5].items()))
    return Entry(*r)


def decode(data: bytes) -> Node:
    body = json.loads(data)
    if body[0] == "d":
        return Leaf.of([_entry(r) for r in body[1]])
    if body[0] == "i":
        return Index.of(body[1], [PageRef(*r) for r in body[2]])
    raise ValueError(f"unknown node tag {body[0]!r}")


def node_hash(data: bytes) -> str:
    return blake3(data).hexdigest()


EMPTY_LEAF = Leaf.of(())
EMPTY_DATA = encode(EMPTY_LEAF)
EMPTY_HASH = node_hash(EMPTY_DATA)


def is_boundary(name: str, level: int = 0) -> bool:
    """Content-defined cut after an entry name (level 0) or after a ref's first name (level k).

    A cryptographic hash, not a CRC: a CRC is linear, so sequential names (`f0001`, `f0002`, ...)
    would get regular, level-correlated cuts (measured: no level-1 cut at all over 394 pages).
    """
    key = name.encode() if level == 0 else f"{level}\x00{name}".encode()
    return blake3(key).digest(length=1)[0] % PAGE_SPLIT == 0


class NodeBatch(dict[str, bytes]):
    """The nodes one change wrote (hash -> bytes), with each decoded node kept for the cache."""

    def __init__(self) -> None:
        super().__init__()
        self.decoded: dict[str, Node] = {}


def store_node(node: Node, out: dict[str, bytes]) -> str:
    """Serialize `node`, record it in `out` (hash -> bytes), return its hash."""
    data = encode(node)
    h = node_hash(data)
    out[h] = data
    if isinstance(out, NodeBatch):
        out.decoded[h] = node
    return h


class Chunker:
    """Cuts a sorted run of items of one level into canonical nodes; restartable at any cut.

    Level 0 cuts entries into pages (`Leaf`); level k >= 1 cuts refs into level-k `Index` nodes.
    """

    def __init__(self, level: int, out: dict[str, bytes]) -> None:
        self.level = level
        self.out = out
        self.pending: list[Any] = []  # entries (level 0) or refs
        self.refs: list[PageRef] = []

    def add(self, item: Entry | PageRef) -> None:
        self.pending.append(item)
        if len(self.pending) >= PAGE_MAX or is_boundary(item[0], self.level):
            self.cut()

    def cut(self) -> None:
        if not self.pending:
            return
        node: Node = Leaf.of(self.pending) if self.level == 0 else Index.of(self.level, self.pending)
        h = store_node(node, self.out)
        self.refs.append(PageRef(self.pending[0][0], h, node.size, node.files, node.n))
        self.pending = []


def chunk_all(items: Iterable[Entry | PageRef], level: int, out: dict[str, bytes]) -> list[PageRef]:
    chunker = Chunker(level, out)
    for item in items:
        chunker.add(item)
    chunker.cut()
    return chunker.refs


def build_index(refs: list[PageRef], level: int, out: dict[str, bytes]) -> tuple[str, Index]:
    """The root over `refs` (refs of level `level`): cut into more levels while they are too many."""
    while len(refs) > INDEX_MAX:
        refs = chunk_all(refs, level, out)
        level += 1
    index = Index.of(level, refs)
    return store_node(index, out), index


def build_dir(entries: Iterable[Entry], out: dict[str, bytes]) -> tuple[str, Node]:
    """The canonical node(s) of a directory holding exactly `entries` (sorted by name)."""
    entries = list(entries)
    if len(entries) <= INLINE_MAX:
        leaf = Leaf.of(entries)
        return store_node(leaf, out), leaf
    return build_index(chunk_all(entries, 0, out), 1, out)

