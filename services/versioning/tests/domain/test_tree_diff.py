"""Diff of two trees: added/deleted/modified files, equal subtrees and pages skipped, cursors."""

from __future__ import annotations

from treekit import build, file_entry

from tusk_versioning.domain.diff import Side, diff
from tusk_versioning.domain.nodes import EMPTY_HASH, Entry, build_dir
from tusk_versioning.domain.tree import MemoryNodes, lookup
from tusk_versioning.domain.working import WorkingTree


async def changes(store: MemoryNodes, old: str, new: str, path: tuple[str, ...] = (), after=None):
    a = await lookup(store, old, path)
    b = await lookup(store, new, path)
    return [
        ("/" + "/".join(c.parts), c.change)
        async for c in diff(Side(store, a), Side(store, b), path, after=after)
    ]


async def test_diff_reports_added_deleted_and_modified_files():
    store = MemoryNodes()
    old = await build(store, {"/keep": "k", "/mod": "1", "/gone/a": "a", "/gone/b": "b", "/f": "file"})
    wt = await WorkingTree.open(store, old)
    await wt.put(("mod",), file_entry("2"))
    await wt.delete(("gone",))
    await wt.put(("new", "x"), file_entry("x"))
    await wt.delete(("f",))
    await wt.put(("f", "inside"), file_entry("i"))
    new, _, out = await wt.seal()
    store.put_all(out)
    assert await changes(store, old, new) == [
        ("/f", "deleted"),
        ("/f/inside", "added"),
        ("/gone/a", "deleted"),
        ("/gone/b", "deleted"),
        ("/mod", "modified"),
        ("/new/x", "added"),
    ]


async def test_diff_against_the_empty_tree_lists_every_file_as_added():
    store = MemoryNodes()
    new = await build(store, {"/a/b": "1", "/c": "2"})
    assert await changes(store, EMPTY_HASH, new) == [("/a/b", "added"), ("/c", "added")]


async def test_diff_below_a_path_only_reports_inside_it():
    store = MemoryNodes()
    old = await build(store, {"/a/x": "1", "/b/y": "1"})
    new = await build(store, {"/a/x": "2", "/b/y": "2"}, old)
    assert await changes(store, old, new, ("a",)) == [("/a/x", "modified")]


async def test_diff_skips_equal_subtrees_and_equal_pages():
    out: dict[str, bytes] = {}
    entries = [Entry(f"f{i:06d}", "file", f"c{i}", 1, 1) for i in range(50_000)]
    big, node = build_dir(entries, out)
    other, onode = build_dir([Entry(f"g{i}", "file", f"c{i}", 1, 1) for i in range(1000)], out)
    root, _ = build_dir(
        [Entry("big", "dir", big, node.size, node.files), Entry("other", "dir", other, onode.size, onode.files)],
        out,
    )
    store = MemoryNodes(out)
    wt = await WorkingTree.open(store, root)
    await wt.put(("big", "f025000"), file_entry("changed"))
    new, _, written = await wt.seal()
    store.put_all(written)
    store.loads = 0
    assert await changes(store, root, new) == [("/big/f025000", "modified")]
    # per side: the root, /big's root index, one level-1 index node and the changed page (+ 2 lookups)
    assert store.loads <= 10


async def test_diff_resumes_after_a_cursor():
    store = MemoryNodes()
    new = await build(store, {f"/d{i}/f{j}": "x" for i in range(3) for j in range(3)} | {"/z": "1"})
    full = await changes(store, EMPTY_HASH, new)
    for i, (path, _) in enumerate(full):
        cursor = tuple(path.split("/")[1:])
        assert await changes(store, EMPTY_HASH, new, after=cursor) == full[i + 1 :]
