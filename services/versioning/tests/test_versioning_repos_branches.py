"""Repos and branches over the RPC: create, inspect, list, move, delete, and their errors."""

from __future__ import annotations

import pytest
from versioning_kit import put

from tusk_common.errors import AlreadyExists, Conflict, Invalid, NotFound
from tusk_common.wire import versioning as v


async def test_create_repo_makes_an_empty_master_branch(service):
    info = await service.call(v.CreateRepo(name="images", description="cats"))
    assert info.name == "images" and info.description == "cats" and info.branches == ["master"]
    master = await service.call(v.InspectBranch(repo="images", name="master"))
    assert master.head is None


async def test_create_repo_twice_is_already_exists_unless_update(service):
    await service.call(v.CreateRepo(name="r"))
    with pytest.raises(AlreadyExists):
        await service.call(v.CreateRepo(name="r"))
    info = await service.call(v.CreateRepo(name="r", description="new", update=True))
    assert info.description == "new"


@pytest.mark.parametrize("name", ["", "a.b", "has space", "x" * 64, "../etc"])
async def test_bad_repo_names_are_invalid_naming_the_field(service, name):
    with pytest.raises(Invalid) as err:
        await service.call(v.CreateRepo(name=name))
    assert err.value.field == "name"


async def test_inspect_and_list_repos_report_size_of_the_default_branch(service):
    await service.call(v.CreateRepo(name="a"))
    await service.call(v.CreateRepo(name="b"))
    await service.call(v.PutFiles(repo="a", ref="master", changes=[put("/x", "12345"), put("/d/y", "1")]))
    a = await service.call(v.InspectRepo(name="a"))
    assert (a.size_bytes, a.file_count) == (6, 2)
    listed = await service.call(v.ListRepos())
    assert [r.name for r in listed.repos] == ["a", "b"]
    assert listed.repos[0].file_count == 2


async def test_unknown_repo_is_not_found_naming_it(service):
    with pytest.raises(NotFound) as err:
        await service.call(v.InspectRepo(name="ghost"))
    assert err.value.details["repo"] == "ghost"
    with pytest.raises(NotFound):
        await service.call(v.ListBranches(repo="ghost"))


async def test_delete_repo_removes_branches_and_commits(service):
    await service.call(v.CreateRepo(name="r"))
    res = await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))
    await service.call(v.DeleteRepo(name="r"))
    with pytest.raises(NotFound):
        await service.call(v.InspectRepo(name="r"))
    await service.call(v.CreateRepo(name="r"))
    with pytest.raises(NotFound):
        await service.call(v.InspectCommit(repo="r", ref=res.commit.id))


async def test_a_repo_in_use_by_pipelines_is_not_deleted_without_force(service):
    for name in ("raw", "clean", "other"):
        await service.call(v.CreateRepo(name=name))
    await service.call(v.PutFiles(repo="raw", ref="master", changes=[put("/a")]))
    await service.call(v.SetRepoUsers(pipeline="clean", inputs=["raw", "other"], output="clean"))
    await service.call(v.SetRepoUsers(pipeline="stats", inputs=["raw"]))

    with pytest.raises(Conflict) as read:
        await service.call(v.DeleteRepo(name="raw"))
    assert "read by pipeline(s) clean, stats" in read.value.message and read.value.details["readers"] == [
        "clean", "stats"]
    with pytest.raises(Conflict, match="output of pipeline 'clean': delete the pipeline instead"):
        await service.call(v.DeleteRepo(name="clean"))
    assert (await service.call(v.InspectRepo(name="raw"))).file_count == 1  # refused: nothing changed

    # A pipeline's record is replaced as a whole; an empty one forgets it.
    await service.call(v.SetRepoUsers(pipeline="clean", inputs=["raw"], output="clean"))
    await service.call(v.DeleteRepo(name="other"))
    await service.call(v.SetRepoUsers(pipeline="stats"))
    with pytest.raises(Conflict, match=r"read by pipeline\(s\) clean:"):
        await service.call(v.DeleteRepo(name="raw"))
    await service.call(v.DeleteRepo(name="raw", force=True))
    with pytest.raises(NotFound):
        await service.call(v.InspectRepo(name="raw"))
    # Recording a repo that does not exist is refused, naming it; nothing of the old record is lost.
    with pytest.raises(NotFound, match="'ghost'"):
        await service.call(v.SetRepoUsers(pipeline="clean", inputs=["ghost"], output="clean"))
    with pytest.raises(Conflict):
        await service.call(v.DeleteRepo(name="clean"))


async def test_create_branch_with_head_points_at_that_commit_and_can_move_it(service):
    await service.call(v.CreateRepo(name="r"))
    first = (await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))).commit
    second = (await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/b")]))).commit
    dev = await service.call(v.CreateBranch(repo="r", name="dev", head="master^"))
    assert dev.head == first.id
    moved = await service.call(v.CreateBranch(repo="r", name="dev", head=second.id))
    assert moved.head == second.id
    listed = await service.call(v.ListBranches(repo="r"))
    assert [b.name for b in listed.branches] == ["dev", "master"]


async def test_create_branch_with_an_unknown_head_is_not_found(service):
    await service.call(v.CreateRepo(name="r"))
    with pytest.raises(NotFound):
        await service.call(v.CreateBranch(repo="r", name="dev", head="nope"))
    with pytest.raises(NotFound):
        await service.call(v.CreateBranch(repo="r", name="dev", head="master"))  # no commits yet


async def test_a_commit_of_another_repo_is_not_a_valid_head(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.CreateRepo(name="s"))
    other = (await service.call(v.PutFiles(repo="s", ref="master", changes=[put("/a")]))).commit
    with pytest.raises(NotFound):
        await service.call(v.CreateBranch(repo="r", name="dev", head=other.id))


async def test_delete_branch_keeps_its_commits(service):
    await service.call(v.CreateRepo(name="r"))
    c = (await service.call(v.PutFiles(repo="r", ref="dev", changes=[put("/a")]))).commit
    await service.call(v.DeleteBranch(repo="r", name="dev"))
    with pytest.raises(NotFound):
        await service.call(v.InspectBranch(repo="r", name="dev"))
    assert (await service.call(v.InspectCommit(repo="r", ref=c.id))).state == "finished"


async def test_delete_branch_with_an_open_head_needs_force(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    with pytest.raises(Conflict):
        await service.call(v.DeleteBranch(repo="r", name="master"))
    await service.call(v.DeleteBranch(repo="r", name="master", force=True))
    assert (await service.call(v.InspectCommit(repo="r", ref=c.id))).state == "open"


async def test_moving_a_branch_whose_head_is_open_is_a_conflict(service):
    await service.call(v.CreateRepo(name="r"))
    base = (await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))).commit
    await service.call(v.StartCommit(repo="r", branch="master"))
    with pytest.raises(Conflict):
        await service.call(v.CreateBranch(repo="r", name="master", head=base.id))
