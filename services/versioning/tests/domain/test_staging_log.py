"""The staging log: compacted (last write per path wins) and replayed, it gives the same tree."""

from __future__ import annotations

import random

from treekit import build

from tusk_common.errors import TuskError
from tusk_versioning.domain.records import StagedChange
from tusk_versioning.domain.staging import apply_change, compact
from tusk_versioning.domain.tree import MemoryNodes, lookup
from tusk_versioning.domain.working import WorkingTree

PATHS = ["/a", "/a/b", "/a/b/c", "/a/d", "/e", "/e/f", "/g"]


def random_change(rng: random.Random, copy_from: str) -> StagedChange:
    path = rng.choice(PATHS)
    roll = rng.random()
    if roll < 0.35:
        return StagedChange(0, path, "delete")
    if roll < 0.45:
        return StagedChange(0, path, "put", "dir", copy_from, 0, 0)
    return StagedChange(0, path, "put", "file", f"c-{rng.randrange(5)}", 1, 1)


async def test_compacted_replay_equals_applying_every_accepted_change_in_order():
    rng = random.Random(11)
    for trial in range(150):
        store = MemoryNodes()
        base = await build(store, {p: "base" for p in rng.sample(["/a/b/c", "/a/d", "/e/f", "/g", "/x"], 3)})
        src = await build(store, {"/s/a": "1", "/s/b/c": "2"})
        src_dir = await lookup(store, src, ("s",))
        assert src_dir is not None
        live = await WorkingTree.open(store, base)
        log: list[StagedChange] = []
        accepted: list[StagedChange] = []
        for _ in range(rng.randrange(1, 12)):
            change = random_change(rng, src_dir.hash)
            try:
                await apply_change(live, change)
            except TuskError:
                live = await WorkingTree.open(store, base)  # a refused request stages nothing
                for kept in accepted:
                    await apply_change(live, kept)
                continue
            accepted.append(change)
            # staged in batches: each batch compacts itself, then drops earlier rows of its paths
            log = compact([*log, change])
        expected, _, _ = await live.seal()
        replay = await WorkingTree.open(store, base)
        for change in log:
            await apply_change(replay, change, strict=False)
        got, _, _ = await replay.seal()
        assert got == expected, (trial, log)


def test_compact_keeps_the_last_replacing_write_of_each_path_and_every_copy_after_it():
    a1 = StagedChange(0, "/a", "put", "file", "1", 1, 1)
    a2 = StagedChange(0, "/a", "delete")
    b = StagedChange(0, "/b", "put", "file", "1", 1, 1)
    copy = StagedChange(0, "/a", "put", "dir", "d", 0, 0)
    assert compact([a1, b, a2, copy]) == [b, a2, copy]
