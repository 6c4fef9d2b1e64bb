"""File metadata in tree nodes: canonical, compact encoding, part of the hash, seen by diff."""

from __future__ import annotations

import json

from treekit import build, file_entry

from tusk_versioning.domain.diff import Side, diff
from tusk_versioning.domain.nodes import Entry, Leaf, decode, encode, meta_of, node_hash
from tusk_versioning.domain.tree import MemoryNodes, lookup
from tusk_versioning.domain.working import WorkingTree


def test_metadata_round_trips_through_the_node_encoding_in_key_order():
    meta = meta_of({"x-amz-meta-b": "2", "content-type": "text/csv", "x-amz-meta-a": "é"})
    leaf = Leaf.of([Entry("a.csv", "file", "c1", 3, 1, meta), Entry("b", "file", "c2", 1, 1)])
    data = encode(leaf)
    assert decode(data) == leaf
    rows = json.loads(data)[1]
    assert list(rows[0][5]) == ["content-type", "x-amz-meta-a", "x-amz-meta-b"]
    assert len(rows[1]) == 5  # a file without metadata costs nothing extra
    assert "é" in data.decode()  # UTF-8, not \\u escapes


def test_the_same_metadata_in_any_order_gives_the_same_hash_and_other_metadata_another():
    one = Leaf.of([Entry("f", "file", "c", 1, 1, meta_of({"a": "1", "b": "2"}))])
    same = Leaf.of([Entry("f", "file", "c", 1, 1, meta_of({"b": "2", "a": "1"}))])
    other = Leaf.of([Entry("f", "file", "c", 1, 1, meta_of({"a": "1", "b": "3"}))])
    bare = Leaf.of([Entry("f", "file", "c", 1, 1, meta_of({}))])
    assert node_hash(encode(one)) == node_hash(encode(same))
    assert len({node_hash(encode(n)) for n in (one, other, bare)}) == 3
    assert meta_of(None) == meta_of({}) == ()


async def test_diff_reports_a_metadata_only_change_as_modified():
    store = MemoryNodes()
    old = await build(store, {"/d/f": "bytes", "/g": "same"})
    wt = await WorkingTree.open(store, old)
    await wt.put(("d", "f"), file_entry("bytes")._replace(meta=meta_of({"content-type": "text/plain"})))
    new, _, out = await wt.seal()
    store.put_all(out)
    assert new != old
    a, b = await lookup(store, old, ()), await lookup(store, new, ())
    got = [(c.parts, c.change, c.new.meta if c.new else None) async for c in diff(Side(store, a), Side(store, b))]
    assert got == [(("d", "f"), "modified", (("content-type", "text/plain"),))]
