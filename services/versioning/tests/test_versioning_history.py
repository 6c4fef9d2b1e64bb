"""Squash and delete of commits under Pachyderm's safety rules."""

from __future__ import annotations

import pytest
from versioning_kit import put

from tusk_common.errors import Conflict, NotFound
from tusk_common.wire import versioning as v


async def three_commits(service):
    await service.call(v.CreateRepo(name="r"))
    return [
        (await service.call(v.PutFiles(repo="r", ref="master", changes=[put(f"/{i}", str(i))]))).commit.id
        for i in range(3)
    ]


async def test_squash_folds_a_commit_into_its_child_without_losing_files(service):
    a, b, c = await three_commits(service)
    await service.call(v.SquashCommit(repo="r", ref=b))
    with pytest.raises(NotFound):
        await service.call(v.InspectCommit(repo="r", ref=b))
    assert (await service.call(v.InspectCommit(repo="r", ref=c))).parent == a
    files = await service.call(v.ListFiles(repo="r", ref="master"))
    assert [f.path for f in files.files] == ["/0", "/1", "/2"]
    diff = await service.call(v.DiffFiles(repo="r", ref="master"))
    assert [(d.path, d.change) for d in diff.changes] == [("/1", "added"), ("/2", "added")]


async def test_squashing_the_root_commit_keeps_its_data_in_the_children(service):
    a, b, _c = await three_commits(service)
    await service.call(v.SquashCommit(repo="r", ref=a))
    assert (await service.call(v.InspectCommit(repo="r", ref=b))).parent is None
    assert (await service.call(v.InspectFile(repo="r", ref="master", path="/0"))).type == "file"


async def test_squashing_a_branch_head_is_a_conflict(service):
    await three_commits(service)
    with pytest.raises(Conflict) as err:
        await service.call(v.SquashCommit(repo="r", ref="master"))
    assert "head of branch master" in err.value.message
    _ = await service.call(v.CreateBranch(repo="r", name="keep", head="master^"))
    with pytest.raises(Conflict):
        await service.call(v.SquashCommit(repo="r", ref="keep"))


async def test_squashing_an_open_commit_is_a_conflict(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    with pytest.raises(Conflict):
        await service.call(v.SquashCommit(repo="r", ref=c.id))


async def test_squashing_a_childless_commit_that_no_branch_holds_is_a_conflict(service):
    a, _b, _c = await three_commits(service)
    await service.call(v.CreateBranch(repo="r", name="side", head=a))
    side = (await service.call(v.PutFiles(repo="r", ref="side", changes=[put("/s")]))).commit.id
    await service.call(v.DeleteBranch(repo="r", name="side"))
    with pytest.raises(Conflict) as err:
        await service.call(v.SquashCommit(repo="r", ref=side))
    assert "no children" in err.value.message


async def test_delete_commit_moves_the_branch_back_to_the_parent(service):
    _a, b, c = await three_commits(service)
    await service.call(v.DeleteCommit(repo="r", ref=c))
    assert (await service.call(v.InspectBranch(repo="r", name="master"))).head == b
    with pytest.raises(NotFound):
        await service.call(v.InspectFile(repo="r", ref="master", path="/2"))


async def test_deleting_a_commit_with_children_is_a_conflict(service):
    _a, b, _c = await three_commits(service)
    with pytest.raises(Conflict) as err:
        await service.call(v.DeleteCommit(repo="r", ref=b))
    assert "squash it instead" in err.value.message


async def test_deleting_an_open_head_drops_its_staged_changes(service):
    a, _b, c = await three_commits(service)
    o = await service.call(v.StartCommit(repo="r", branch="master"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/staged")]))
    await service.call(v.DeleteCommit(repo="r", ref=o.id))
    assert (await service.call(v.InspectBranch(repo="r", name="master"))).head == c
    res = await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/after")]))
    assert res.atomic is True
    assert a


async def test_deleting_the_only_commit_empties_the_branch(service):
    await service.call(v.CreateRepo(name="r"))
    c = (await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))).commit
    await service.call(v.DeleteCommit(repo="r", ref=c.id))
    assert (await service.call(v.InspectBranch(repo="r", name="master"))).head is None
