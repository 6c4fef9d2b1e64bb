"""Merkle trees: canonical hashing, paged directories, O(change) rewrites, read-your-writes overlay."""

from __future__ import annotations

import random

import pytest
from treekit import build, file_entry

from tusk_common.errors import Conflict, NotFound
from tusk_versioning.domain.nodes import EMPTY_HASH, INLINE_MAX, Entry, Index, Leaf, build_dir
from tusk_versioning.domain.tree import MemoryNodes, lookup, split, walk
from tusk_versioning.domain.working import WorkingTree


async def files_of(store: MemoryNodes, root: str) -> dict[str, str]:
    return {"/" + "/".join(p): e.hash[2:] async for p, e in walk(store, root) if e.kind == "file"}


async def test_same_files_give_the_same_root_whatever_the_order():
    files = {f"/d{i % 7}/f{i}": str(i) for i in range(300)}
    s1, s2 = MemoryNodes(), MemoryNodes()
    h1 = await build(s1, files)
    h2 = await build(s2, dict(reversed(list(files.items()))))
    assert h1 == h2


async def test_lookup_finds_files_and_dirs_with_sizes_and_counts():
    store = MemoryNodes()
    root = await build(store, {"/a/b.txt": "xx", "/a/c/d.txt": "yyy", "/e": "z"})
    a = await lookup(store, root, ("a",))
    assert a is not None and a.kind == "dir" and a.files == 2 and a.size == 5
    b = await lookup(store, root, ("a", "b.txt"))
    assert b == Entry("b.txt", "file", "c-xx", 2, 1)
    assert await lookup(store, root, ("a", "nope")) is None
    assert await lookup(store, root, ("e", "below-a-file")) is None
    top = await lookup(store, root, ())
    assert top is not None and top.files == 3


async def test_putting_a_file_over_a_directory_is_a_conflict_naming_the_path():
    store = MemoryNodes()
    root = await build(store, {"/a/b": "1"})
    wt = await WorkingTree.open(store, root)
    with pytest.raises(Conflict) as err:
        await wt.put(("a",), file_entry("2"))
    assert err.value.details["path"] == "/a"


async def test_putting_below_a_file_is_a_conflict_naming_the_file():
    store = MemoryNodes()
    root = await build(store, {"/a": "1"})
    wt = await WorkingTree.open(store, root)
    with pytest.raises(Conflict) as err:
        await wt.put(("a", "b"), file_entry("2"))
    assert err.value.details["path"] == "/a"


async def test_deleting_the_last_file_removes_the_implicit_directory():
    store = MemoryNodes()
    root = await build(store, {"/a/b/c": "1", "/x": "2"})
    wt = await WorkingTree.open(store, root)
    await wt.delete(("a", "b", "c"))
    h, _, out = await wt.seal()
    store.put_all(out)
    assert await lookup(store, h, ("a",)) is None
    assert await files_of(store, h) == {"/x": "2"}


async def test_deleting_a_missing_path_is_not_found():
    store = MemoryNodes()
    root = await build(store, {"/a": "1"})
    wt = await WorkingTree.open(store, root)
    with pytest.raises(NotFound):
        await wt.delete(("b",))
    with pytest.raises(NotFound):
        await wt.delete(("a", "b"))
    await wt.delete(("b",), strict=False)


async def test_copying_a_directory_onto_a_directory_merges_with_the_source_winning():
    store = MemoryNodes()
    root = await build(store, {"/src/a": "new", "/src/sub/b": "b", "/dst/a": "old", "/dst/keep": "k"})
    src = await lookup(store, root, ("src",))
    wt = await WorkingTree.open(store, root)
    assert src is not None
    await wt.put(("dst",), src)
    await wt.put(("fresh",), src)
    h, _, out = await wt.seal()
    store.put_all(out)
    files = await files_of(store, h)
    assert files["/dst/a"] == "new" and files["/dst/keep"] == "k" and files["/dst/sub/b"] == "b"
    assert files["/fresh/a"] == "new"
    fresh = await lookup(store, h, ("fresh",))
    assert fresh is not None and fresh.hash == src.hash  # copied by reference


async def test_small_directories_are_one_inline_node_and_large_ones_are_paged():
    out: dict[str, bytes] = {}
    small = [Entry(f"f{i:04d}", "file", f"c{i}", 1, 1) for i in range(INLINE_MAX)]
    _, node = build_dir(small, out)
    assert isinstance(node, Leaf)
    big = [Entry(f"f{i:05d}", "file", f"c{i}", 1, 1) for i in range(5000)]
    _, node = build_dir(big, out)
    assert isinstance(node, Index) and node.n == 5000 and 10 < len(node.pages) < 200


async def big_dir_tree(n: int) -> tuple[MemoryNodes, str]:
    out: dict[str, bytes] = {}
    entries = [Entry(f"file-{i:06d}.csv", "file", f"c-{i}", 10, 1) for i in range(n)]
    dir_hash, node = build_dir(entries, out)
    root_hash, _ = build_dir([Entry("big", "dir", dir_hash, node.size, node.files)], out)
    store = MemoryNodes(out)
    return store, root_hash


async def test_a_one_file_change_in_a_100k_entry_directory_rewrites_a_handful_of_nodes():
    store, root = await big_dir_tree(100_000)
    big = await lookup(store, root, ("big",))
    assert big is not None
    top = await store.get(big.hash)
    assert isinstance(top, Index) and top.level == 2  # pages, level-1 index nodes, a root index
    for change in (("put", "file-050000.csv"), ("put", "file-050000.csv-new"), ("delete", "file-000007.csv")):
        store.loads = 0
        wt = await WorkingTree.open(store, root)
        if change[0] == "put":
            await wt.put(("big", change[1]), file_entry("changed"))
        else:
            await wt.delete(("big", change[1]))
        _, _, written = await wt.seal()
        # the touched page (or two, when a cut moved), one index node per level, and the tree root
        assert len(written) <= 6, change
        # the tree root, /big's index nodes (not its ~800 pages), and the page or two being changed
        assert store.loads <= 2 + len(top.pages) + 2, change


async def test_incremental_paging_equals_a_rebuild_from_scratch():
    rng = random.Random(7)
    names = [f"n{rng.randrange(10**6):06d}" for _ in range(3000)]
    current = {name: "v0" for name in names}
    store = MemoryNodes()
    root = await build(store, {f"/d/{k}": v for k, v in current.items()})
    for step in range(40):
        wt = await WorkingTree.open(store, root)
        for _ in range(rng.choice([1, 3, 50, 400])):
            name = rng.choice(names) if rng.random() < 0.7 else f"x{rng.randrange(10**6)}"
            if rng.random() < 0.4 and name in current:
                await wt.delete(("d", name))
                del current[name]
            else:
                current[name] = f"v{step}"
                await wt.put(("d", name), file_entry(f"v{step}"))
        root, _, out = await wt.seal()
        store.put_all(out)
        fresh = await build(MemoryNodes(), {f"/d/{k}": v for k, v in current.items()})
        assert root == fresh, step


async def test_shrinking_a_paged_directory_below_the_inline_limit_makes_it_inline_again():
    store = MemoryNodes()
    root = await build(store, {f"/d/f{i:04d}": "x" for i in range(INLINE_MAX + 50)})
    wt = await WorkingTree.open(store, root)
    for i in range(100):
        await wt.delete(("d", f"f{i:04d}"))
    root, _, out = await wt.seal()
    store.put_all(out)
    d = await lookup(store, root, ("d",))
    assert d is not None and isinstance(await store.get(d.hash), Leaf)
    assert root == await build(MemoryNodes(), {f"/d/f{i:04d}": "x" for i in range(100, INLINE_MAX + 50)})


async def test_deleting_the_root_empties_the_tree():
    store = MemoryNodes()
    root = await build(store, {"/a": "1", "/b/c": "2"})
    wt = await WorkingTree.open(store, root)
    await wt.delete(())
    h, _, _ = await wt.seal()
    assert h == EMPTY_HASH


async def test_walk_resumes_strictly_after_a_cursor_in_depth_first_order():
    store = MemoryNodes()
    root = await build(store, {"/a/x": "1", "/a/y/z": "2", "/a-b": "3", "/b": "4"})
    everything = [p async for p, _ in walk(store, root)]
    assert everything == [("a",), ("a", "x"), ("a", "y"), ("a", "y", "z"), ("a-b",), ("b",)]
    for i, cursor in enumerate(everything):
        assert [p async for p, _ in walk(store, root, after=cursor)] == everything[i + 1 :]


def test_split_ignores_the_root_slash():
    assert split("/") == () and split("/a/b") == ("a", "b")


@pytest.fixture
def tiny_pages(monkeypatch):
    """Shrink the paging constants so a few thousand entries make a B-tree of several levels."""
    from tusk_versioning.domain import nodes

    monkeypatch.setattr(nodes, "INLINE_MAX", 8)
    monkeypatch.setattr(nodes, "INDEX_MAX", 4)
    monkeypatch.setattr(nodes, "PAGE_SPLIT", 4)
    monkeypatch.setattr(nodes, "PAGE_MAX", 12)


async def depth_of(store: MemoryNodes, h: str) -> int:
    node = await store.get(h)
    return node.level if isinstance(node, Index) else 0


async def test_multi_level_paging_stays_canonical_through_growth_edits_and_shrinking(tiny_pages):
    rng = random.Random(3)
    current = {f"n{i:05d}": "v0" for i in range(0, 6000, 2)}
    store = MemoryNodes()
    root = await build(store, {f"/d/{k}": v for k, v in current.items()})
    d = await lookup(store, root, ("d",))
    assert d is not None and await depth_of(store, d.hash) >= 4
    plans = [("scatter", 1), ("scatter", 5), ("burst", 300), ("grow", 2000), ("shrink", 0.9), ("shrink", 0.995)]
    for step, (kind, arg) in enumerate(plans * 3):
        wt = await WorkingTree.open(store, root)
        names = sorted(current)
        if kind == "scatter":
            for _ in range(int(arg)):
                name = rng.choice(names) if rng.random() < 0.5 else f"n{rng.randrange(6000):05d}x"
                current[name] = f"v{step}"
                await wt.put(("d", name), file_entry(f"v{step}"))
        elif kind == "burst":
            start = rng.randrange(max(len(names) - int(arg), 1))
            for name in names[start : start + int(arg)]:
                await wt.delete(("d", name))
                del current[name]
        elif kind == "grow":
            for _ in range(int(arg)):
                name = f"g{step:02d}{rng.randrange(10**6):06d}"
                current[name] = "g"
                await wt.put(("d", name), file_entry("g"))
        else:
            for name in rng.sample(names, int(len(names) * arg)):
                await wt.delete(("d", name))
                del current[name]
        root, _, out = await wt.seal()
        store.put_all(out)
        fresh = await build(MemoryNodes(), {f"/d/{k}": v for k, v in current.items()})
        assert root == fresh, (step, kind)
        assert await files_of(store, root) == {f"/d/{k}": v for k, v in current.items()}


async def test_a_one_entry_change_in_a_deep_directory_writes_one_node_per_level(tiny_pages):
    store = MemoryNodes()
    root = await build(store, {f"/d/n{i:05d}": "v" for i in range(4000)})
    d = await lookup(store, root, ("d",))
    assert d is not None
    levels = await depth_of(store, d.hash)
    wt = await WorkingTree.open(store, root)
    await wt.put(("d", "n02000"), file_entry("changed"))
    _, _, written = await wt.seal()
    # the page and one index node per level (a moved cut may add one per level), plus the tree root
    assert len(written) <= 2 * (levels + 1) + 1
