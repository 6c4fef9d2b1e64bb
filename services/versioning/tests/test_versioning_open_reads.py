"""A read that resolved a commit while it was open still reads its files once it has been finished
(or, on another replica, while it is being finished): the staging log is gone by then."""

from __future__ import annotations

import pytest
from versioning_kit import put

from tusk_common.errors import NotFound
from tusk_common.wire import versioning as v
from tusk_versioning.adapters import catalog
from tusk_versioning.domain.tree import lookup


async def test_a_snapshot_of_a_commit_seen_open_reads_its_files_after_the_finish(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    await service.call(v.PutFiles(repo="r", ref=c.id, changes=[put("/a", "1")]))
    async with service.deps.pool.acquire() as conn:
        stale = await catalog.get_commit(conn, c.id)
    assert stale is not None and stale.is_open
    await service.call(v.FinishCommit(repo="r", ref=c.id))
    async with service.deps.pool.acquire() as conn:
        snap = await service.deps.views.snapshot(conn, stale)
        assert snap.commit.state == "finished"
        assert await lookup(snap.reader, snap.root, ("a",)) is not None


async def test_a_snapshot_of_a_commit_deleted_meanwhile_is_not_found(service):
    await service.call(v.CreateRepo(name="r"))
    c = await service.call(v.StartCommit(repo="r", branch="master"))
    async with service.deps.pool.acquire() as conn:
        stale = await catalog.get_commit(conn, c.id)
    await service.call(v.DeleteCommit(repo="r", ref=c.id))
    async with service.deps.pool.acquire() as conn:
        with pytest.raises(NotFound):
            await service.deps.views.snapshot(conn, stale)
