"""Staged changes of open commits: applying them to a working tree, and compacting the log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from tusk_versioning.domain.nodes import Entry
from tusk_versioning.domain.records import StagedChange
from tusk_versioning.domain.tree import split
from tusk_versioning.domain.working import WorkingTree

YIELD_EVERY = 128  # changes applied between two yields to the event loop


def replaces(change: StagedChange) -> bool:
    """A delete, or a put of a file, replaces whatever was at its path (a directory copy merges)."""
    return change.op == "delete" or change.kind == "file"


def compact(changes: Sequence[StagedChange]) -> list[StagedChange]:
    """Drop changes that a later change to the same path replaces (last write per path wins).

    Only exact paths are compacted: a replay in order is correct with or without compaction, and
    exact matches keep this O(n) here and an index lookup in Postgres.
    """
    last_replacing: dict[str, int] = {}
    for i, c in enumerate(changes):
        if replaces(c):
            last_replacing[c.path] = i
    return [c for i, c in enumerate(changes) if last_replacing.get(c.path, -1) <= i]


async def apply_change(wt: WorkingTree, change: StagedChange, *, strict: bool = True) -> None:
    """Apply one change; `strict=False` replays a log whose changes were checked when staged."""
    parts = split(change.path)
    if change.op == "delete":
        await wt.delete(parts, strict=strict)
        return
    assert change.kind is not None and change.hash is not None
    name = parts[-1] if parts else ""
    await wt.put(parts, Entry(name, change.kind, change.hash, change.size, change.files, change.meta), strict=strict)


async def apply_changes(wt: WorkingTree, changes: Iterable[StagedChange], *, strict: bool = True) -> int:
    """Apply changes in order (see `apply_change`); returns the last `seq` applied (0 for none).

    Gives the event loop back every `YIELD_EVERY` changes: a batch of thousands must not hold up the
    small requests (a finish, a stat) that arrive meanwhile.
    """
    last = 0
    for i, change in enumerate(changes, 1):
        await apply_change(wt, change, strict=strict)
        last = change.seq
        if i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return last
