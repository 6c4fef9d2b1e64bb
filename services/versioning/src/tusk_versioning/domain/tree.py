"""Reading Merkle trees: the node-reader port, path helpers, lookups and ordered walks.

Walks yield in depth-first order with siblings sorted by name, which is the order of paths compared
component by component; cursors are the path of the last item returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from tusk_versioning.domain.nodes import (
    EMPTY_DATA,
    EMPTY_HASH,
    EMPTY_LEAF,
    Entry,
    Index,
    Leaf,
    Node,
    decode,
)

Parts = tuple[str, ...]


class MissingNode(LookupError):
    """A node hash that no store holds: the tree is damaged."""


class NodeReader(Protocol):
    """Where immutable nodes come from (Postgres with a cache, or memory in tests)."""

    async def get(self, h: str) -> Node: ...

    async def get_many(self, hashes: Sequence[str]) -> list[Node]:
        """The nodes of `hashes`, in order (one round trip for those not cached)."""
        ...


class MemoryNodes:
    """Nodes held in memory (`hash -> bytes`), optionally in front of another reader.

    Used for trees not yet persisted (an open commit's view) and as the store in unit tests;
    `loads` counts decoded reads so tests can check what a walk touched.
    """

    def __init__(self, data: dict[str, bytes] | None = None, base: NodeReader | None = None) -> None:
        self.data = data if data is not None else {}
        self.base = base
        self.loads = 0
        self._decoded: dict[str, Node] = getattr(self.data, "decoded", None) or {}

    async def get(self, h: str) -> Node:
        if h == EMPTY_HASH:
            return EMPTY_LEAF
        node = self._decoded.get(h)
        if node is not None:
            self.loads += 1
            return node
        data = self.data.get(h)
        if data is not None:
            self.loads += 1
            node = self._decoded[h] = decode(data)
            return node
        if self.base is not None:
            return await self.base.get(h)
        raise MissingNode(h)

    async def get_many(self, hashes: Sequence[str]) -> list[Node]:
        return [await self.get(h) for h in hashes]

    def put_all(self, nodes: dict[str, bytes]) -> None:
        self.data.update(nodes)


def empty_nodes() -> dict[str, bytes]:
    return {EMPTY_HASH: EMPTY_DATA}


def split(path: str) -> Parts:
    """`/a/b` -> ("a", "b"); `/` -> (). The path must already be normalized."""
    return tuple(p for p in path.split("/") if p)


def join(parts: Parts) -> str:
    return "/" + "/".join(parts)


def root_entry(node: Node, h: str) -> Entry:
    return Entry("", "dir", h, node.size, node.files)


async def find_in(reader: NodeReader, node: Node, name: str) -> Entry | None:
    """The entry `name` of a directory node (loads one node per level of a paged directory)."""
    while isinstance(node, Index):
        if not node.pages:
            return None
        node = await reader.get(node.pages[node.page_of(name)].hash)
    return node.find(name)


async def lookup(reader: NodeReader, root: str, parts: Parts) -> Entry | None:
    """The entry at `parts` below the tree `root`, or None; `()` is the root directory itself."""
    node = await reader.get(root)
    entry = root_entry(node, root)
    for name in parts:
        if entry.kind != "dir":
            return None
        found = await find_in(reader, node, name)
        if found is None:
            return None
        entry = found
        if entry.kind == "dir":
            node = await reader.get(entry.hash)
    return entry


async def iter_dir(reader: NodeReader, h: str, after: str | None = None) -> AsyncIterator[Entry]:
    """Entries of the directory node `h` in name order, starting after the name `after`."""
    async for e in _iter_node(reader, await reader.get(h), after):
        yield e


async def _iter_node(reader: NodeReader, node: Node, after: str | None) -> AsyncIterator[Entry]:
    if isinstance(node, Leaf):
        for e in node.entries[node.start(after) :]:
            yield e
        return
    first = 0 if after is None else node.page_of(after)
    for ref in node.pages[first:]:
        async for e in _iter_node(reader, await reader.get(ref.hash), after):
            yield e


async def walk(
    reader: NodeReader,
    h: str,
    prefix: Parts = (),
    *,
    after: Parts | None = None,
    descend: Callable[[Parts], bool] = lambda parts: True,
) -> AsyncIterator[tuple[Parts, Entry]]:
    """Every entry below directory `h` (depth first, name order) strictly after the path `after`.

    `descend(parts)` says whether to enter the directory at `parts`; it lets a glob prune.
    """
    first = after[0] if after else None
    rest = after[1:] if after else None
    # Entries equal to `first` were returned before the cursor, but their children may not have been.
    start = None
    if first is not None:
        start_entry = await _find_dir(reader, h, first)
        if start_entry is not None and start_entry.kind == "dir" and descend((*prefix, first)):
            async for item in walk(
                reader, start_entry.hash, (*prefix, first), after=rest or None, descend=descend
            ):
                yield item
        start = first
    async for e in iter_dir(reader, h, start):
        parts = (*prefix, e.name)
        yield parts, e
        if e.kind == "dir" and descend(parts):
            async for item in walk(reader, e.hash, parts, descend=descend):
                yield item


async def _find_dir(reader: NodeReader, h: str, name: str) -> Entry | None:
    return await find_in(reader, await reader.get(h), name)


