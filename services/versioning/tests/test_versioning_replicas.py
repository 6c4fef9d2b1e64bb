"""Two replicas of the service on one database: requests spread over both, state stays consistent."""

from __future__ import annotations

import asyncio

from versioning_kit import put

from tusk_common.service import ServiceContext, running_service
from tusk_common.wire import versioning as v
from tusk_versioning.app import NAME, build
from tusk_versioning.deps import Deps


async def test_an_open_commit_staged_through_two_replicas_reads_and_finishes_whole(service):
    second: list[Deps] = []

    async def keep(ctx: ServiceContext) -> None:
        second.append(await build(ctx))

    async with running_service(NAME, service.settings, keep):
        await service.call(v.CreateRepo(name="r"))
        c = await service.call(v.StartCommit(repo="r", branch="master"))
        for i in range(16):
            # each request may land on either replica; each read must see every earlier write
            await service.call(v.PutFiles(repo="r", ref="master", changes=[put(f"/f{i:02d}", str(i))]))
            listed = await service.call(v.ListFiles(repo="r", ref=c.id))
            assert [f.path for f in listed.files] == [f"/f{j:02d}" for j in range(i + 1)]
        # both replicas served this open commit (NATS spreads a queue group's requests)
        assert c.id in service.deps.views._views and c.id in second[0].views._views
        done = await service.call(v.FinishCommit(repo="r", ref=c.id))
        assert done.file_count == 16


async def test_concurrent_atomic_puts_through_two_replicas_lose_nothing(service):
    async with running_service(NAME, service.settings, build):
        await service.call(v.CreateRepo(name="r"))
        await asyncio.gather(
            *(service.call(v.PutFiles(repo="r", ref="master", changes=[put(f"/w{i}")])) for i in range(16))
        )
        head = await service.call(v.InspectCommit(repo="r", ref="master"))
        assert head.file_count == 16
        history = await service.call(v.ListCommits(repo="r", branch="master", limit=100))
        assert len(history.commits) == 16
