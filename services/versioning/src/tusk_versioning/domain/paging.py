"""Incremental re-paging of large directories: only the touched pages and one index node per level.

A paged directory is a B-tree: `flat[1]` lists the refs to its pages, partitioned into level-1 index
nodes whose refs form `flat[2]`, and so on up to the root (level L), which holds `flat[L]`. An edit
dirties some pages; `runs` re-cuts each dirty page together with the following ones until a new cut
lands on an old boundary (after which the old cuts are valid again), giving *replacements* of ranges
of `flat[1]`. Those dirty the level-1 nodes holding them, which are re-cut the same way, and so up the
levels; the result equals a canonical build from scratch (see `nodes.build_dir`).
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from tusk_versioning.domain import nodes
from tusk_versioning.domain.nodes import Chunker, Entry, Index, Leaf, Node, PageRef, build_dir, build_index
from tusk_versioning.domain.tree import NodeReader

# (start, end, new refs): old items [start, end) of a level are replaced by the new refs
Replacement = tuple[int, int, list[PageRef]]
Items = Callable[[int], Awaitable[Sequence[Entry | PageRef]]]


@dataclass
class Levels:
    """The index levels of a paged directory, flattened: `flat[k]` and `groups[k]` for k >= 1."""

    top: int
    flat: dict[int, list[PageRef]]
    groups: dict[int, list[int]]  # lengths of the runs of flat[k] held by each level-k node

    @classmethod
    async def load(cls, reader: NodeReader, root: Index) -> Levels:
        flat = {root.level: list(root.pages)}
        groups: dict[int, list[int]] = {}
        for k in range(root.level - 1, 0, -1):
            below: list[PageRef] = []
            sizes: list[int] = []
            for child in await reader.get_many([ref.hash for ref in flat[k + 1]]):
                assert isinstance(child, Index) and child.level == k
                below.extend(child.pages)
                sizes.append(len(child.pages))
            flat[k], groups[k] = below, sizes
        return cls(root.level, flat, groups)

    def page_of(self, name: str) -> int:
        pages = self.flat[1]
        return max(bisect.bisect_right(pages, name, key=lambda p: p.first) - 1, 0)


async def runs(
    count: int, dirty: set[int], items: Items, level: int, out: dict[str, bytes]
) -> list[Replacement]:
    """Re-cut the dirty groups (of `count`) into level-`level` nodes; a run stops as soon as a new
    cut lands on an old group end followed by a clean group."""
    result: list[Replacement] = []
    for start in sorted(dirty):
        if result and start < result[-1][1]:
            continue  # absorbed by the previous run
        chunker = Chunker(level, out)
        j = start
        while j < count:
            for item in await items(j):
                chunker.add(item)
            j += 1
            if not chunker.pending and (j >= count or j not in dirty):
                break
        chunker.cut()
        result.append((start, j, chunker.refs))
    return result


def apply(old: Sequence[PageRef], repl: Sequence[Replacement]) -> list[PageRef]:
    out: list[PageRef] = []
    x = 0
    for i, j, new in repl:
        out.extend(old[x:i])
        out.extend(new)
        x = j
    out.extend(old[x:])
    return out


def _group_items(flat: Sequence[PageRef], s: int, e: int, repl: Sequence[Replacement]) -> list[PageRef]:
    """Items of the group holding flat[s:e] once the replacements are applied (new refs go to the
    group where their replaced range starts)."""
    out: list[PageRef] = []
    x = s
    for i, j, new in repl:
        if i >= e:
            break
        if j <= s:
            continue
        if i >= s:
            out.extend(flat[x:i])
            out.extend(new)
        x = max(x, min(j, e))
    out.extend(flat[x:e])
    return out


async def repage_refs(
    levels: Levels, k: int, repl: list[Replacement], out: dict[str, bytes]
) -> list[Replacement]:
    """Given replacements of flat[k], re-cut the level-k nodes they touch: replacements of flat[k+1]."""
    flat, sizes = levels.flat[k], levels.groups[k]
    starts = [0]
    for n in sizes:
        starts.append(starts[-1] + n)
    dirty: set[int] = set()
    for i, j, _new in repl:
        g = max(bisect.bisect_right(starts, i) - 1, 0)
        dirty.add(min(g, len(sizes) - 1))
        while g + 1 < len(sizes) and starts[g + 1] < j:
            g += 1
            dirty.add(g)

    async def items(g: int) -> list[PageRef]:
        if g in dirty:
            return _group_items(flat, starts[g], starts[g + 1], repl)
        return list(flat[starts[g] : starts[g + 1]])

    return await runs(len(sizes), dirty, items, k, out)


async def reassemble(
    levels: Levels, page_repl: list[Replacement], read_page: Callable[[PageRef], Awaitable[Leaf]],
    out: dict[str, bytes],
) -> tuple[str, Node]:  # fmt: skip
    """The new directory node after the pages changed by `page_repl` (replacements of flat[1])."""
    by_level = {1: page_repl}
    for k in range(1, levels.top):
        by_level[k + 1] = await repage_refs(levels, k, by_level[k], out)

    def new_len(k: int) -> int:
        return len(levels.flat[k]) + sum(len(new) - (j - i) for i, j, new in by_level[k])

    top = apply(levels.flat[levels.top], by_level[levels.top])
    if sum(r.n for r in top) <= nodes.INLINE_MAX:
        entries: list[Entry] = []
        for ref in apply(levels.flat[1], by_level[1]):
            entries.extend((await read_page(ref)).entries)
        return build_dir(entries, out)
    # The root sits at the lowest level holding few enough refs; above the old top it grows.
    for m in range(1, levels.top):
        if new_len(m) <= nodes.INDEX_MAX:
            return build_index(apply(levels.flat[m], by_level[m]), m, out)
    return build_index(top, levels.top, out)
