"""Commits over the RPC: start/finish, refs, open-commit reads, listing, waiting."""

from __future__ import annotations

import asyncio

import pytest
from versioning_kit import delete, put

from tusk_common.errors import Conflict, Invalid, NotFound, Unavailable
from tusk_common.wire import versioning as v


async def test_start_put_finish_makes_one_commit_with_the_staged_files(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master", description="batch"))
    assert c.state == "open" and c.parent is None and c.commit_set == c.id
    res = await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a", "1"), put("/b/c", "22")]))
    assert res.atomic is False and res.commit.id == c.id
    await service.call(v.PutFiles(repo="r", ref=c.id, changes=[put("/d", "333")]))
    done = await service.call(v.FinishCommit(repo="r", ref="master"))
    assert done.state == "finished" and done.file_count == 3 and done.size_bytes == 6
    assert done.description == "batch" and done.finished_at is not None


async def test_an_open_commit_reads_its_parent_plus_its_staged_changes(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/old", "o"), put("/gone", "g")]))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/new", "n"), delete("/gone")]))
    listed = await service.call(v.ListFiles(repo="r", ref=c.id))
    assert [f.path for f in listed.files] == ["/new", "/old"]
    info = await service.call(v.InspectFile(repo="r", ref="master", path="/new"))
    assert info.commit == c.id and info.content is not None and info.content.size == 1
    with pytest.raises(NotFound):
        await service.call(v.InspectFile(repo="r", ref="master", path="/gone"))


async def test_start_commit_on_a_branch_with_an_open_head_is_a_conflict(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.StartCommit(repo="r", branch="master"))
    with pytest.raises(Conflict):
        await service.call(v.StartCommit(repo="r", branch="master"))


async def test_start_commit_on_a_new_branch_creates_it_and_can_take_a_parent(service):
    await service.call(v.CreateRepo(name="r"))
    base = (await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))).commit
    c = await service.call(v.StartCommit(repo="r", branch="dev", parent="master"))
    assert c.parent == base.id and c.branch == "dev"
    assert (await service.call(v.InspectBranch(repo="r", name="dev"))).head == c.id
    await service.call(v.FinishCommit(repo="r", ref="dev"))
    files = await service.call(v.ListFiles(repo="r", ref="dev"))
    assert [f.path for f in files.files] == ["/a"]


async def test_finishing_a_finished_commit_is_a_conflict(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    await service.call(v.FinishCommit(repo="r", ref=c.id))
    with pytest.raises(Conflict):
        await service.call(v.FinishCommit(repo="r", ref=c.id))


async def test_putting_into_a_finished_commit_is_a_conflict(service):
    await service.call(v.CreateRepo(name="r"))
    c = (await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))).commit
    with pytest.raises(Conflict):
        await service.call(v.PutFiles(repo="r", ref=c.id, changes=[put("/b")]))
    with pytest.raises(Conflict):
        await service.call(v.PutFiles(repo="r", ref="master^0", changes=[put("/b")]))


async def test_finish_with_error_marks_the_commit_failed(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.StartCommit(repo="r", branch="master"))
    done = await service.call(v.FinishCommit(repo="r", ref="master", error="job failed"))
    assert done.error == "job failed" and done.state == "finished"


async def test_ancestor_refs_walk_parents_and_stop_at_the_root(service):
    await service.call(v.CreateRepo(name="r"))
    ids = [(await service.call(v.PutFiles(repo="r", ref="master", changes=[put(f"/{i}")]))).commit.id
           for i in range(4)]  # fmt: skip
    assert (await service.call(v.InspectCommit(repo="r", ref="master"))).id == ids[3]
    assert (await service.call(v.InspectCommit(repo="r", ref="master^"))).id == ids[2]
    assert (await service.call(v.InspectCommit(repo="r", ref="master^2"))).id == ids[1]
    assert (await service.call(v.InspectCommit(repo="r", ref="master~3"))).id == ids[0]
    assert (await service.call(v.InspectCommit(repo="r", ref=f"{ids[2]}^1"))).id == ids[1]
    with pytest.raises(NotFound):
        await service.call(v.InspectCommit(repo="r", ref="master^4"))


@pytest.mark.parametrize("ref", ["", "a b", "master^x", "../x"])
async def test_malformed_refs_are_invalid(service, ref):
    await service.call(v.CreateRepo(name="r"))
    with pytest.raises(Invalid):
        await service.call(v.InspectCommit(repo="r", ref=ref))


async def test_unknown_commit_ids_and_branches_are_not_found(service):
    await service.call(v.CreateRepo(name="r"))
    with pytest.raises(NotFound):
        await service.call(v.InspectCommit(repo="r", ref="0" * 32))
    with pytest.raises(NotFound):
        await service.call(v.InspectCommit(repo="r", ref="nobranch"))


async def test_list_commits_pages_newest_first_for_a_branch_and_the_repo(service):
    await service.call(v.CreateRepo(name="r"))
    ids = [(await service.call(v.PutFiles(repo="r", ref="master", changes=[put(f"/{i}")]))).commit.id
           for i in range(5)]  # fmt: skip
    other = (await service.call(v.PutFiles(repo="r", ref="dev", changes=[put("/d")]))).commit.id
    seen, cursor = [], None
    while True:
        page = await service.call(v.ListCommits(repo="r", branch="master", limit=2, cursor=cursor))
        seen += [c.id for c in page.commits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids[::-1]
    seen, cursor = [], None
    while True:
        page = await service.call(v.ListCommits(repo="r", limit=4, cursor=cursor))
        seen += [c.id for c in page.commits]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == [other, *ids[::-1]]
    with pytest.raises(Invalid):
        await service.call(v.ListCommits(repo="r", cursor="garbage!"))


async def test_wait_commit_returns_when_the_commit_finishes(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    waiter = asyncio.create_task(service.call(v.WaitCommit(repo="r", ref=c.id, timeout=20)))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    await service.call(v.FinishCommit(repo="r", ref=c.id))
    done = await asyncio.wait_for(waiter, 5)
    assert done.id == c.id and done.state == "finished"


async def test_wait_commit_on_a_finished_commit_returns_at_once(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a")]))
    assert (await service.call(v.WaitCommit(repo="r", ref="master", timeout=1))).state == "finished"


async def test_wait_commit_times_out_as_unavailable(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.StartCommit(repo="r", branch="master"))
    with pytest.raises(Unavailable):
        await service.call(v.WaitCommit(repo="r", ref="master", timeout=0.3))


async def test_wait_commit_falls_back_to_polling_without_notify(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    await service.deps.waiters.stop()
    service.deps.waiters.closed = False  # listening stopped, waiting must still work
    waiter = asyncio.create_task(service.call(v.WaitCommit(repo="r", ref=c.id, timeout=20)))
    await asyncio.sleep(0.2)
    await service.call(v.FinishCommit(repo="r", ref=c.id))
    assert (await asyncio.wait_for(waiter, 5)).state == "finished"


async def test_an_auto_commit_joins_the_commit_set_it_is_given(service):
    if "commit_set" not in v.StartCommit.model_fields:
        pytest.skip("the contract does not carry commit_set yet")
    await service.call(v.CreateRepo(name="in"))
    await service.call(v.CreateRepo(name="out"))
    source = (await service.call(v.PutFiles(repo="in", ref="master", changes=[put("/a")]))).commit
    out = await service.call(v.StartCommit(repo="out", branch="master", commit_set=source.commit_set, origin="auto"))
    assert out.commit_set == source.id and out.origin == "auto"
    # the input commit now has a dependant in its commit set: it cannot be deleted alone
    with pytest.raises(Conflict):
        await service.call(v.DeleteCommit(repo="in", ref=source.id))
    with pytest.raises(Invalid):
        await service.call(v.StartCommit(repo="out", branch="other", commit_set="nope"))
