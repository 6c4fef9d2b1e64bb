"""File-level difference between two trees; equal subtrees and equal pages are never opened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, NamedTuple

from tusk_versioning.domain.nodes import Entry, Node, level_of
from tusk_versioning.domain.tree import NodeReader, Parts, walk


class Change(NamedTuple):
    parts: Parts
    change: Literal["added", "deleted", "modified"]
    old: Entry | None
    new: Entry | None


class Side(NamedTuple):
    """One tree of a diff: where its nodes come from and its entry at the diffed path (or None)."""

    reader: NodeReader
    entry: Entry | None


async def diff(old: Side, new: Side, prefix: Parts = (), *, after: Parts | None = None) -> AsyncIterator[Change]:
    """Changed files below `prefix`, depth first in name order, strictly after the path `after`."""
    async for c in _entries(old.reader, old.entry, new.reader, new.entry, prefix, after):
        yield c


def _after_child(after: Parts | None, name: str) -> tuple[bool, Parts | None]:
    """(skip entirely, cursor for the child) for the child `name` given the cursor at this level."""
    if not after:
        return False, None
    if name < after[0]:
        return True, None
    if name == after[0]:
        return False, after[1:]
    return False, None


async def _entries(
    ra: NodeReader, a: Entry | None, rb: NodeReader, b: Entry | None, parts: Parts, after: Parts | None
) -> AsyncIterator[Change]:
    if a is not None and b is not None and a.same(b):
        return
    if a is not None and b is not None and a.kind == "dir" and b.kind == "dir":
        async for c in _dirs(ra, a.hash, rb, b.hash, parts, after or None):
            yield c
        return
    # A cursor at or below this path means the change of the path itself was already returned.
    if after is None:
        fa = a if a is not None and a.kind == "file" else None
        fb = b if b is not None and b.kind == "file" else None
        if fa is not None and fb is not None:
            yield Change(parts, "modified", fa, fb)
        elif fa is not None:
            yield Change(parts, "deleted", fa, None)
        elif fb is not None:
            yield Change(parts, "added", None, fb)
    if a is not None and a.kind == "dir":
        async for sub, e in walk(ra, a.hash, parts, after=after or None):
            if e.kind == "file":
                yield Change(sub, "deleted", e, None)
    if b is not None and b.kind == "dir":
        async for sub, e in walk(rb, b.hash, parts, after=after or None):
            if e.kind == "file":
                yield Change(sub, "added", None, e)


async def _differing(
    ra: NodeReader, na: Node, rb: NodeReader, nb: Node
) -> tuple[list[Entry], list[Entry]]:
    """The entries of two directories, minus every page or index node the two share.

    Cuts depend only on the items, so a subtree present in both (same hash, same level) holds the same
    entries on both sides and can be skipped; the rest is expanded one level at a time, top down.
    """
    fa: list[Node] = [na]
    fb: list[Node] = [nb]
    while True:
        top = max(level_of(n) for n in (*fa, *fb))
        if top == 0:
            break
        refs_a = [r for n in fa if level_of(n) == top for r in n.pages]  # type: ignore[union-attr]
        refs_b = [r for n in fb if level_of(n) == top for r in n.pages]  # type: ignore[union-attr]
        common = {r.hash for r in refs_a} & {r.hash for r in refs_b}
        fa = [n for n in fa if level_of(n) != top] + await ra.get_many([r.hash for r in refs_a if r.hash not in common])
        fb = [n for n in fb if level_of(n) != top] + await rb.get_many([r.hash for r in refs_b if r.hash not in common])
    ea = sorted((e for n in fa for e in n.entries), key=_name)  # type: ignore[union-attr]
    eb = sorted((e for n in fb for e in n.entries), key=_name)  # type: ignore[union-attr]
    return ea, eb


def _name(e: Entry) -> str:
    return e.name


async def _dirs(
    ra: NodeReader, ha: str, rb: NodeReader, hb: str, parts: Parts, after: Parts | None
) -> AsyncIterator[Change]:
    ea, eb = await _differing(ra, await ra.get(ha), rb, await rb.get(hb))
    i = j = 0
    while i < len(ea) or j < len(eb):
        x = ea[i] if i < len(ea) else None
        y = eb[j] if j < len(eb) else None
        if y is None or (x is not None and x.name < y.name):
            name, a, b = x.name, x, None  # type: ignore[union-attr]
            i += 1
        elif x is None or y.name < x.name:
            name, a, b = y.name, None, y
            j += 1
        else:
            name, a, b = x.name, x, y
            i += 1
            j += 1
        skip, sub_after = _after_child(after, name)
        if skip:
            continue
        async for c in _entries(ra, a, rb, b, (*parts, name), sub_after):
            yield c
