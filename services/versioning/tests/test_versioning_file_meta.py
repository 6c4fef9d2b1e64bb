"""File metadata over the RPC: stored with puts (atomic and staged), returned by every read, kept by
copies, part of the file's identity for diff, and bounded."""

from __future__ import annotations

import pytest
from versioning_kit import content

from tusk_common.errors import Invalid
from tusk_common.wire import versioning as v

META = {"content-type": "text/csv", "x-amz-meta-owner": "ana", "etag": "abc-2"}


def put(path: str, data: str = "x", meta: dict[str, str] | None = None) -> v.FileChange:
    return v.FileChange(op="put", path=path, content=content(data), meta=meta)


async def test_metadata_of_an_atomic_put_is_returned_by_inspect_and_list(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/d/a.csv", "1", META), put("/d/b")]))
    info = await service.call(v.InspectFile(repo="r", ref="master", path="/d/a.csv"))
    assert info.meta == META
    assert (await service.call(v.InspectFile(repo="r", ref="master", path="/d/b"))).meta is None
    flat = await service.call(v.ListFiles(repo="r", ref="master", path="/d"))
    deep = await service.call(v.ListFiles(repo="r", ref="master", recursive=True))
    for listing in (flat, deep):
        assert [(f.path, f.meta) for f in listing.files] == [("/d/a.csv", META), ("/d/b", None)]


async def test_metadata_staged_in_an_open_commit_is_readable_at_once_and_after_finishing(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a", "1", {"k": "1"})]))
    await service.call(v.PutFiles(repo="r", ref=c.id, changes=[put("/a", "1", {"k": "2"})]))
    assert (await service.call(v.InspectFile(repo="r", ref="master", path="/a"))).meta == {"k": "2"}
    service.deps.views.evict(c.id)  # another replica replays the staging log from Postgres
    assert (await service.call(v.InspectFile(repo="r", ref=c.id, path="/a"))).meta == {"k": "2"}
    await service.call(v.FinishCommit(repo="r", ref=c.id))
    assert (await service.call(v.InspectFile(repo="r", ref=c.id, path="/a"))).meta == {"k": "2"}


async def test_same_bytes_with_other_metadata_is_a_modified_file(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a", "same", {"k": "1"})]))
    first = (await service.call(v.InspectBranch(repo="r", name="master"))).head
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a", "same", {"k": "1"})]))
    unchanged = await service.call(v.DiffFiles(repo="r", ref="master"))
    assert unchanged.changes == []
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a", "same", {"k": "2"})]))
    diff = await service.call(v.DiffFiles(repo="r", ref="master", base=first))
    assert [(c.path, c.change, c.old.meta, c.new.meta) for c in diff.changes] == [
        ("/a", "modified", {"k": "1"}, {"k": "2"})
    ]


async def test_a_copy_keeps_the_metadata(service):
    await service.call(v.CreateRepo(name="r"))
    await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/src/a", "1", META)]))
    await service.call(v.CopyFile(src_repo="r", src_ref="master", src_path="/src/a",
                                  dst_repo="r", dst_ref="master", dst_path="/dst/a"))
    await service.call(v.CopyFile(src_repo="r", src_ref="master", src_path="/src",
                                  dst_repo="r", dst_ref="other", dst_path="/tree"))
    assert (await service.call(v.InspectFile(repo="r", ref="master", path="/dst/a"))).meta == META
    assert (await service.call(v.InspectFile(repo="r", ref="other", path="/tree/a"))).meta == META


async def test_too_much_metadata_or_an_empty_key_is_invalid_and_stores_nothing(service):
    await service.call(v.CreateRepo(name="r"))
    with pytest.raises(Invalid) as err:
        await service.call(v.PutFiles(repo="r", ref="master",
                                      changes=[put("/a", meta={"k": "x" * v.MAX_FILE_META_BYTES})]))
    assert err.value.details["field"] == "changes.0.meta"
    with pytest.raises(Invalid):
        await service.call(v.PutFiles(repo="r", ref="master", changes=[put("/a", meta={"": "x"})]))
    assert (await service.call(v.InspectBranch(repo="r", name="master"))).head is None
