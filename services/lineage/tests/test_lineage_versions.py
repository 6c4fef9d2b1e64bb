"""Files are identified per commit: a deleted and re-added input gives the right version at every past
commit, carried-over outputs point at the run that really made them, and downstream follows versions."""

from __future__ import annotations

import pytest
from lineage_stack import Stack, files_at, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.errors import NotFound

COPY = pipeline("copy", pfs("raw", "/*"), "cp -r /pfs/raw/* /pfs/out/")
MARK = pipeline("mark", pfs("copy", "/*"), "for f in /pfs/copy/*; do (cat $f; echo) > /pfs/out/$(basename $f).m; done")


async def _sources(stack: Stack, repo: str, ref: str, path: str) -> set[tuple[str, str, str]]:
    reply = await stack.lineage_of(repo, ref, path)
    return {f for f in files_at(reply) if f[0] == "raw"}


async def test_deleted_and_re_added_input_gives_the_right_version_at_each_commit(stack: Stack):
    await stack.repo("raw")
    await stack.create(COPY)
    await stack.create(MARK)
    c1 = await stack.put("raw", {"/a": "v1", "/b": "b"})
    await stack.wait_set(c1)
    o1 = await stack.head("copy")
    c2 = await stack.put("raw", {"/a": None})
    await stack.wait_set(c2)
    o2 = await stack.head("copy")
    c3 = await stack.put("raw", {"/a": "v2"})
    await stack.wait_set(c3)
    o3 = await stack.head("copy")
    c4 = await stack.put("raw", {"/c": "c"})
    await stack.wait_set(c4)
    o4 = await stack.head("copy")
    m4 = await stack.head("mark")
    await stack.caught_up()
    assert len({o1.id, o2.id, o3.id, o4.id}) == 4

    assert await _sources(stack, "copy", o1.id, "/a") == {("raw", c1.id, "/a")}
    with pytest.raises(NotFound):
        await stack.lineage_of("copy", o2.id, "/a")
    assert await _sources(stack, "copy", o3.id, "/a") == {("raw", c3.id, "/a")}
    # o4's /a was carried over from job 3: it names the run that made it, which read raw@c3
    assert await _sources(stack, "copy", o4.id, "/a") == {("raw", c3.id, "/a")}
    assert await _sources(stack, "copy", o4.id, "/b") == {("raw", c1.id, "/b")}
    assert await _sources(stack, "mark", m4.id, "/a.m") == {("raw", c3.id, "/a")}

    up = await stack.lineage_of("copy", o1.id, "/a")
    src = next(n for n in up.graph.nodes if n.repo == "raw")
    assert src.content_id == await stack.content_id("raw", c1.id, "/a")
    up3 = await stack.lineage_of("copy", o3.id, "/a")
    assert next(n for n in up3.graph.nodes if n.repo == "raw").content_id == await stack.content_id("raw", c3.id, "/a")

    # Downstream follows the version: v1 made copy@o1:/a and mark's file from it, v2 made the later ones.
    down1 = await stack.lineage_of("raw", c1.id, "/a", direction="downstream")
    assert {(r, c, p) for r, c, p in files_at(down1) if r == "copy"} == {("copy", o1.id, "/a")}
    down3 = await stack.lineage_of("raw", c3.id, "/a", direction="downstream")
    assert {(r, c, p) for r, c, p in files_at(down3) if r == "copy"} == {("copy", o3.id, "/a")}
    assert any(r == "mark" and p == "/a.m" for r, _c, p in files_at(down3))
    # /b did not change at c2: asking about it there is asking about the version written at c1
    down_b = await stack.lineage_of("raw", c2.id, "/b", direction="downstream")
    assert ("copy", o1.id, "/b") in files_at(down_b)
    with pytest.raises(NotFound):
        await stack.lineage_of("raw", c2.id, "/a", direction="downstream")
