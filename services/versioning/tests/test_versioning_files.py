"""Files over the RPC: put/delete/copy, collisions, path validation, list/glob/diff with pagination."""

from __future__ import annotations

import pytest
from versioning_kit import content, delete, put

from tusk_common.errors import Conflict, Invalid, NotFound
from tusk_common.wire import versioning as v


async def paths(service, req) -> list[str]:
    return [f.path for f in (await service.call(req)).files]


async def collect(service, make, limit):
    out, cursor = [], None
    while True:
        page = await service.call(make(limit=limit, cursor=cursor))
        items = page.files if hasattr(page, "files") else page.changes
        out += [i.path for i in items]
        if (cursor := page.next_cursor) is None:
            return out


async def test_a_put_on_a_branch_without_an_open_commit_is_one_finished_commit(service):
    await service.call(v.CreateRepo(name="r"))
    res = await service.call(
        v.PutFiles(repo="r", ref="master", changes=[put("/a/b.csv", "hello")], description="first")
    )
    assert res.atomic is True and res.commit.state == "finished" and res.commit.description == "first"
    assert (await service.call(v.InspectBranch(repo="r", name="master"))).head == res.commit.id
    info = await service.call(v.InspectFile(repo="r", ref="master", path="/a/b.csv"))
    assert info.type == "file" and info.size == 5 and info.content == content("hello")
    d = await service.call(v.InspectFile(repo="r", ref="master", path="/a"))
    assert (d.type, d.file_count, d.size) == ("dir", 1, 5)


async def test_where_a_packed_file_lives_is_kept_and_never_replaced(service):
    """`FileContent.pack` round-trips through the catalog; the first location recorded for a content
    stays (every recorded location is valid), and contents without one list without the key."""
    await service.call(v.CreateRepo(name="r"))
    packed = content("small").model_copy(update={"pack": f"{'ab' * 32}:10:6"})
    elsewhere = packed.model_copy(update={"pack": f"{'cd' * 32}:0:6"})
    first = [v.FileChange(op="put", path="/p", content=packed), put("/loose", "other")]
    await service.call(v.PutFiles(repo="r", ref="master", changes=first))
    again = [v.FileChange(op="put", path="/q", content=elsewhere)]
    await service.call(v.PutFiles(repo="r", ref="master", changes=again))
    listing = await service.call(v.ListFiles(repo="r", ref="master", path="/"))
    infos = {f.path: f.content for f in listing.files}
    assert infos == {"/p": packed, "/q": packed, "/loose": content("other")}
    assert infos["/loose"] is not None and infos["/loose"].pack is None


async def test_a_put_on_a_missing_branch_creates_it(service):
    await service.call(v.CreateRepo(name="r"))
    res = await service.call(v.PutFiles(repo="r", ref="feature", changes=[put("/x")]))
    assert res.commit.branch == "feature"
    assert (await service.call(v.InspectBranch(repo="r", name="feature"))).head == res.commit.id


async def test_later_changes_in_one_request_win(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(
        v.PutFiles(repo="r", ref="master", changes=[put("/a", "1"), put("/a", "22"), put("/b"), delete("/b")])
    )
    assert await paths(service, v.ListFiles(repo="r", ref="master")) == ["/a"]
    assert (await service.call(v.InspectFile(repo="r", ref="master", path="/a"))).size == 2


async def test_a_file_over_a_directory_is_a_conflict_naming_the_path(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a/b")]))
    with pytest.raises(Conflict) as err:
        await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))
    assert err.value.details["path"] == "/a"
    with pytest.raises(Conflict) as err:
        await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a/b/c")]))
    assert err.value.details["path"] == "/a/b"


async def test_a_collision_in_an_open_commit_is_refused_and_stages_nothing(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    await service.call(v.PutFiles(repo="r", ref=c.id, changes=[put("/a/b")]))
    with pytest.raises(Conflict):
        await service.call(v.PutFiles(repo="r", ref=c.id, changes=[put("/ok"), put("/a")]))
    assert await paths(service, v.ListFiles(repo="r", ref=c.id, recursive=True)) == ["/a/b"]
    done = await service.call(v.FinishCommit(repo="r", ref=c.id))
    assert done.file_count == 1


async def test_a_failed_atomic_put_writes_no_commit(service):
    await service.call(v.CreateRepo(name="r"))
    first = (await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))).commit
    with pytest.raises(Conflict):
        await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/b"), put("/a/c")]))
    assert (await service.call(v.InspectBranch(repo="r", name="master"))).head == first.id


@pytest.mark.parametrize("path", ["a", "/a/../b", "/a/./b", "/a//b", "/a\x00b", "/"])
async def test_bad_paths_are_invalid_naming_the_change(service, path):
    await service.call(v.CreateRepo(name="r"))
    with pytest.raises(Invalid) as err:
        await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/fine"), put(path)]))
    assert err.value.field == "changes.1.path"


async def test_a_put_without_content_and_an_empty_request_are_invalid(service):
    await service.call(v.CreateRepo(name="r"))
    with pytest.raises(Invalid):
        await service.call(v.PutFiles(repo="r", ref="master", changes=[v.FileChange(op="put", path="/a")]))
    with pytest.raises(Invalid):
        await service.call(v.PutFiles(repo="r", ref="master", changes=[]))


async def test_deleting_a_missing_file_is_not_found_and_a_directory_delete_is_recursive(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/d/a"), put("/d/e/b"), put("/k")]))
    with pytest.raises(NotFound) as err:
        await service.call(v.PutFiles(repo="r", ref="master", changes=[delete("/nope")]))
    assert err.value.details["path"] == "/nope"
    await service.call(v.PutFiles(repo="r", ref="master", changes=[delete("/d")]))
    assert await paths(service, v.ListFiles(repo="r", ref="master", recursive=True)) == ["/k"]


async def test_missing_paths_are_not_found_naming_them(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))
    with pytest.raises(NotFound) as err:
        await service.call(v.InspectFile(repo="r", ref="master", path="/b/c"))
    assert err.value.details["path"] == "/b/c"
    with pytest.raises(NotFound):
        await service.call(v.ListFiles(repo="r", ref="master", path="/b"))


async def test_list_files_lists_one_directory_by_name_or_every_file_recursively(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master",
                                  changes=[put("/b"), put("/a/x"), put("/a/y/z"), put("/c/q")]))  # fmt: skip
    top = (await service.call(v.ListFiles(repo="r", ref="master"))).files
    assert [(f.path, f.type) for f in top] == [("/a", "dir"), ("/b", "file"), ("/c", "dir")]
    assert await paths(service, v.ListFiles(repo="r", ref="master", path="/a")) == ["/a/x", "/a/y"]
    assert await paths(service, v.ListFiles(repo="r", ref="master", recursive=True)) == [
        "/a/x", "/a/y/z", "/b", "/c/q"
    ]  # fmt: skip
    assert await paths(service, v.ListFiles(repo="r", ref="master", path="/b")) == ["/b"]


async def test_list_files_paginates_with_cursors(service):
    await service.call(v.CreateRepo(name="r"))
    files = [put(f"/d{i % 3}/f{i:03d}") for i in range(40)]
    await service.call(v.PutFiles(repo="r", ref="master", changes=files))
    full = await paths(service, v.ListFiles(repo="r", ref="master", recursive=True, limit=1000))
    paged = await collect(service, lambda **kw: v.ListFiles(repo="r", ref="master", recursive=True, **kw), 7)
    assert paged == full and len(full) == 40
    one_dir = await collect(service, lambda **kw: v.ListFiles(repo="r", ref="master", path="/d1", **kw), 3)
    assert len(one_dir) == 13
    with pytest.raises(Invalid):
        await service.call(v.ListFiles(repo="r", ref="master", cursor="!!"))


async def test_glob_files_matches_files_and_directories(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[
        put("/cats/1.png"), put("/cats/2.jpg"), put("/dogs/1.png"), put("/readme.md")]))  # fmt: skip
    glob = lambda p: paths(service, v.GlobFiles(repo="r", ref="master", pattern=p))  # noqa: E731
    assert await glob("/*") == ["/cats", "/dogs", "/readme.md"]
    assert await glob("/**.png") == ["/cats/1.png", "/dogs/1.png"]
    assert await glob("/{cats,dogs}/1.*") == ["/cats/1.png", "/dogs/1.png"]
    assert await glob("/") == ["/"]
    assert await glob("/nothing*") == []
    paged = await collect(service, lambda **kw: v.GlobFiles(repo="r", ref="master", pattern="/**", **kw), 2)
    assert paged == ["/cats", "/cats/1.png", "/cats/2.jpg", "/dogs", "/dogs/1.png", "/readme.md"]
    with pytest.raises(Invalid):
        await service.call(v.GlobFiles(repo="r", ref="master", pattern="/[abc"))


async def test_diff_files_defaults_to_the_parent_and_accepts_another_base(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a", "1"), put("/b", "1")]))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a", "2"), delete("/b"), put("/c")]))
    d = await service.call(v.DiffFiles(repo="r", ref="master"))
    assert [(c.path, c.change) for c in d.changes] == [("/a", "modified"), ("/b", "deleted"), ("/c", "added")]
    mod = d.changes[0]
    assert mod.old is not None and mod.new is not None and mod.old.content != mod.new.content
    first = await service.call(v.DiffFiles(repo="r", ref="master^"))
    assert [(c.path, c.change) for c in first.changes] == [("/a", "added"), ("/b", "added")]
    await service.call(v.CreateRepo(name="s"))
    await service.call(v.PutFiles(repo="s", ref="master", changes=[put("/a", "2")]))
    cross = await service.call(v.DiffFiles(repo="r", ref="master", base="master", base_repo="s"))
    assert [(c.path, c.change) for c in cross.changes] == [("/c", "added")]
    paged = await collect(service, lambda **kw: v.DiffFiles(repo="r", ref="master", **kw), 1)
    assert paged == ["/a", "/b", "/c"]


async def test_copy_file_copies_a_directory_by_reference(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/src/a", "1"), put("/src/s/b", "2")]))
    res = await service.call(v.CopyFile(src_repo="r", src_ref="master", src_path="/src",
                                        dst_repo="r", dst_ref="master", dst_path="/dst"))  # fmt: skip
    assert res.atomic is True and res.commit.file_count == 4
    assert await paths(service, v.ListFiles(repo="r", ref="master", path="/dst", recursive=True)) == [
        "/dst/a", "/dst/s/b"
    ]  # fmt: skip
    await service.call(v.CreateRepo(name="s"))
    await service.call(v.CopyFile(src_repo="r", src_ref="master", src_path="/src/a",
                                  dst_repo="s", dst_ref="master", dst_path="/x"))  # fmt: skip
    info = await service.call(v.InspectFile(repo="s", ref="master", path="/x"))
    assert info.content == content("1")
    with pytest.raises(NotFound):
        await service.call(v.CopyFile(src_repo="r", src_ref="master", src_path="/nope",
                                      dst_repo="s", dst_ref="master", dst_path="/y"))  # fmt: skip


async def test_copy_from_an_open_commit_survives_its_finish(service):
    await service.call(v.CreateRepo(name="r"))
    src = await service.call(v.StartCommit(repo="r", branch="work"))
    await service.call(v.PutFiles(repo="r", ref=src.id, changes=[put("/new/a", "1"), put("/new/b/c", "2")]))
    await service.call(v.CopyFile(src_repo="r", src_ref=src.id, src_path="/new",
                                  dst_repo="r", dst_ref="master", dst_path="/copied"))  # fmt: skip
    await service.call(v.DeleteCommit(repo="r", ref=src.id))
    service.deps.views.cache._items.clear()  # force reads from Postgres
    assert await paths(service, v.ListFiles(repo="r", ref="master", recursive=True)) == [
        "/copied/a", "/copied/b/c"
    ]  # fmt: skip
