"""Tree nodes in Postgres behind a bounded in-process cache (nodes are immutable, so it never goes stale)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from tusk_common.errors import Corrupted
from tusk_versioning.domain.nodes import EMPTY_HASH, EMPTY_LEAF, Node, decode, node_hash


@dataclass
class NodeStats:
    """Counters the tests and the metrics read: DB reads, cache hits, node rows written."""

    fetched: int = 0
    hits: int = 0
    written: int = 0


class NodeCache:
    """LRU of decoded nodes, bounded by the size of their encoded bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, tuple[Node, int]] = OrderedDict()
        self.stats = NodeStats()

    def get(self, h: str) -> Node | None:
        item = self._items.get(h)
        if item is None:
            return None
        self._items.move_to_end(h)
        return item[0]

    def put(self, h: str, node: Node, weight: int) -> None:
        if h in self._items or weight > self.max_bytes:
            return
        self._items[h] = (node, weight)
        self.bytes += weight
        while self.bytes > self.max_bytes:
            _, (_, w) = self._items.popitem(last=False)
            self.bytes -= w

    def __len__(self) -> int:
        return len(self._items)


class PgNodes:
    """A `NodeReader` over one connection (the caller's transaction) and the shared cache."""

    def __init__(self, cache: NodeCache, conn: asyncpg.Connection) -> None:
        self.cache = cache
        self.conn = conn

    async def get(self, h: str) -> Node:
        if h == EMPTY_HASH:
            return EMPTY_LEAF
        node = self.cache.get(h)
        if node is not None:
            self.cache.stats.hits += 1
            return node
        data = await self.conn.fetchval("SELECT data FROM nodes WHERE hash = $1", h)
        self.cache.stats.fetched += 1
        return self._decode(h, data)

    async def get_many(self, hashes: Sequence[str]) -> list[Node]:
        found: dict[str, Node] = {}
        missing = []
        for h in hashes:
            node = EMPTY_LEAF if h == EMPTY_HASH else self.cache.get(h)
            if node is None:
                missing.append(h)
            else:
                found[h] = node
        self.cache.stats.hits += len(found)
        if missing:
            rows = await self.conn.fetch("SELECT hash, data FROM nodes WHERE hash = ANY($1::text[])", missing)
            self.cache.stats.fetched += len(missing)
            data = {r["hash"]: r["data"] for r in rows}
            for h in missing:
                found[h] = self._decode(h, data.get(h))
        return [found[h] for h in hashes]

    def _decode(self, h: str, data: bytes | None) -> Node:
        if data is None or node_hash(data) != h:
            raise Corrupted(f"tree node {h} is missing or damaged", node=h)
        node = decode(data)
        self.cache.put(h, node, len(data))
        return node


async def save_nodes(conn: asyncpg.Connection, cache: NodeCache, nodes: dict[str, bytes]) -> int:
    """Insert nodes not stored yet (inside the caller's transaction); returns how many were sent."""
    if not nodes:
        return 0
    hashes = sorted(nodes)  # one lock order for concurrent writers of the same nodes
    await conn.execute(
        "INSERT INTO nodes (hash, data) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT DO NOTHING",
        hashes,
        [nodes[h] for h in hashes],
    )
    cache.stats.written += len(hashes)
    decoded = getattr(nodes, "decoded", {})
    for h in hashes:
        if h in decoded:
            cache.put(h, decoded[h], len(nodes[h]))
    return len(hashes)
