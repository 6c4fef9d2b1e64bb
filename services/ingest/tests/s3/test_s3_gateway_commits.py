"""Commits through the S3 gateway: an open commit gathers writes, `x-tusk-commit-group` groups them into
one commit finished when idle, and that survives the replica that opened the group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from driver_contract import body
from tusk_stack import DriverParts, GatewayThread, tusk_driver, unique

from tusk_common.settings import ServiceSettings
from tusk_common.store.fs import FsObjectStore
from tusk_ingest.s3 import errors
from tusk_ingest.s3.buckets import Bucket
from tusk_ingest.s3.commit_groups import GROUPS, CommitGroups
from tusk_ingest.s3.driver import ObjectMeta, commit_group
from tusk_ingest.s3.tusk_driver import TuskDriver
from tusk_ingest.s3.tusk_uploads import UploadRecords

MiB = 1024 * 1024


def _grouped(s3: Any, ms: int) -> Any:
    def add_header(request: Any, **_kw: Any) -> None:
        request.headers["x-tusk-commit-group"] = str(ms)

    s3.meta.events.register("before-sign.s3.*", add_header)
    return s3


def _wait_finished(gateway: GatewayThread, repo: str, commit: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while gateway.run(gateway.versioning.inspect_commit(repo, commit)).state != "finished":
        assert time.monotonic() < deadline, "the idle commit group was not finished"
        time.sleep(0.05)


@pytest.mark.xdist_group("s3-gateway-commits")
def test_writes_land_in_the_open_commit_and_are_readable_at_once(tusk_gateway: GatewayThread) -> None:
    s3 = tusk_gateway.boto3()
    repo = unique()
    s3.create_bucket(Bucket=repo)
    opened = tusk_gateway.run(tusk_gateway.versioning.start_commit(repo, "master"))
    versions = {s3.put_object(Bucket=repo, Key=f"f{i}", Body=b"x")["VersionId"] for i in range(5)}
    s3.delete_objects(Bucket=repo, Delete={"Objects": [{"Key": "f4"}]})
    assert versions == {opened.id}
    assert s3.get_object(Bucket=repo, Key="f3")["Body"].read() == b"x"  # read-your-writes
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=repo)["Contents"]] == ["f0", "f1", "f2", "f3"]
    # What finishes idle commit groups leaves a commit the user opened alone: it is theirs to finish.
    assert tusk_gateway.ingest is not None and tusk_gateway.ingest.s3.groups is not None
    tusk_gateway.run(tusk_gateway.ingest.s3.groups.scan())
    assert tusk_gateway.run(tusk_gateway.versioning.inspect_commit(repo, opened.id)).state == "open"
    tusk_gateway.run(tusk_gateway.versioning.finish_commit(repo, opened.id))
    commits = tusk_gateway.run(tusk_gateway.versioning.list_commits(repo, "master")).commits
    assert len(commits) == 1 and commits[0].file_count == 4


@pytest.mark.xdist_group("s3-gateway-commits")
def test_the_commit_group_header_makes_one_commit_finished_when_idle(tusk_gateway: GatewayThread) -> None:
    # The idle window is generous: on a loaded machine two writes of this test may be a second apart, and
    # a group that went idle between them would (rightly) finish early.
    s3 = _grouped(tusk_gateway.boto3(), 2500)
    repo = unique()
    s3.create_bucket(Bucket=repo)
    first = s3.put_object(Bucket=repo, Key="a", Body=b"1")["VersionId"]
    for i in range(10):
        assert s3.put_object(Bucket=repo, Key=f"many/{i}", Body=b"x" * i)["VersionId"] == first
    s3.copy_object(Bucket=repo, Key="copy", CopySource={"Bucket": repo, "Key": "a"})
    assert s3.get_object(Bucket=repo, Key="many/9")["Body"].read() == b"x" * 9
    group = tusk_gateway.run(tusk_gateway.versioning.inspect_commit(repo, first))
    assert group.state == "open" and group.description.startswith("s3 commit group")
    _wait_finished(tusk_gateway, repo, first)
    commits = tusk_gateway.run(tusk_gateway.versioning.list_commits(repo, "master")).commits
    assert [c.id for c in commits] == [first] and commits[0].file_count == 12
    second = s3.put_object(Bucket=repo, Key="b", Body=b"2")["VersionId"]  # a new group after the idle one
    assert second != first
    _wait_finished(tusk_gateway, repo, second)
    bad = tusk_gateway.boto3()
    bad.meta.events.register("before-sign.s3.*", lambda request, **_: request.headers.__setitem__(
        "x-tusk-commit-group", "soon"))
    with pytest.raises(Exception, match="InvalidArgument"):
        bad.put_object(Bucket=repo, Key="c", Body=b"3")


# -------------------------------------------------------------------- across replicas and restarts


@pytest_asyncio.fixture
async def parts(service_settings: ServiceSettings, tmp_path: Path) -> AsyncIterator[DriverParts]:
    async with tusk_driver(service_settings, tmp_path) as parts:
        await parts.driver.create_bucket(Bucket("r"))
        yield parts


def _replica(parts: DriverParts, tmp_path: Path, **kw: Any) -> tuple[TuskDriver, CommitGroups]:
    """Another ingest replica: same versioning and object store, nothing in memory."""
    backend = FsObjectStore(tmp_path / "objects")
    groups = CommitGroups(parts.client, backend)
    return TuskDriver(parts.client, parts.store, UploadRecords(backend, kw.get("expiry", timedelta(days=7))),
                      groups=groups), groups


async def test_a_group_left_by_a_dead_replica_is_finished_by_another(parts: DriverParts, tmp_path: Path) -> None:
    token = commit_group.set(200)
    try:
        put = await parts.driver.put_object(Bucket("r"), "a", body(b"1"), ObjectMeta())
    finally:
        commit_group.reset(token)
    assert (await parts.client.inspect_commit("r", put.version_id)).state == "open"
    # the replica that opened the group dies (its finisher never runs); another one scans the records
    _, other = _replica(parts, tmp_path)
    await other.scan()
    assert (await parts.client.inspect_commit("r", put.version_id)).state == "open"  # not idle yet
    await asyncio.sleep(0.3)
    await other.scan()
    assert (await parts.client.inspect_commit("r", put.version_id)).state == "finished"
    assert [k async for k in parts.groups.backend.list(GROUPS)] == []


async def test_a_write_that_finds_a_stale_group_finishes_it_and_starts_another(parts: DriverParts,
                                                                               tmp_path: Path) -> None:
    token = commit_group.set(100)
    try:
        first = await parts.driver.put_object(Bucket("r"), "a", body(b"1"), ObjectMeta())
        await asyncio.sleep(0.25)
        driver, _ = _replica(parts, tmp_path)
        second = await driver.put_object(Bucket("r"), "b", body(b"2"), ObjectMeta())
    finally:
        commit_group.reset(token)
    assert second.version_id != first.version_id
    assert (await parts.client.inspect_commit("r", first.version_id)).state == "finished"
    assert (await parts.client.inspect_commit("r", second.version_id)).parent == first.version_id


async def test_a_multipart_upload_continues_on_another_replica(parts: DriverParts, tmp_path: Path) -> None:
    upload = await parts.driver.create_multipart_upload(Bucket("r"), "big", ObjectMeta(content_type="a/b"))
    p1 = await parts.driver.upload_part(Bucket("r"), "big", upload.upload_id, 1, body(b"a" * (5 * MiB)))
    other, _ = _replica(parts, tmp_path)  # e.g. the first replica restarted
    p2 = await other.upload_part(Bucket("r"), "big", upload.upload_id, 2, body(b"b" * 10))
    assert [p.etag async for p in other.list_parts(Bucket("r"), "big", upload.upload_id)] == [p1.etag, p2.etag]
    done = await other.complete_multipart_upload(Bucket("r"), "big", upload.upload_id, [1, 2], etag="e-2",
                                                 checksums={})
    info = await parts.driver.head_object(Bucket("r"), "big")
    assert (info.etag, info.size, info.part_sizes, info.meta.content_type) == ("e-2", 5 * MiB + 10,
                                                                               (5 * MiB, 10), "a/b")
    assert info.version_id == done.version_id
    stream = await parts.driver.get_object(Bucket("r"), "big")
    assert b"".join([b async for b in stream.read(5 * MiB - 2, 5 * MiB + 3)]) == b"aabbb"
    assert [k async for k in parts.store.backend.list("s3-gateway/")] == []  # the records are gone


async def test_a_multipart_upload_whose_part_is_in_a_pack_reads_back(parts: DriverParts) -> None:
    """A small part whose bytes a pack upload stored is a packed content; the completed object's manifest
    names loose chunks only, so the part's chunk is copied out of its pack first."""
    await parts.store.write_smalls([b"b" * 10, b"c" * 10])  # as `put file -r` packs small files
    assert (await parts.store.write_small(b"b" * 10)).pack is not None
    upload = await parts.driver.create_multipart_upload(Bucket("r"), "joined", ObjectMeta())
    await parts.driver.upload_part(Bucket("r"), "joined", upload.upload_id, 1, body(b"a" * (5 * MiB)))
    await parts.driver.upload_part(Bucket("r"), "joined", upload.upload_id, 2, body(b"b" * 10))
    await parts.driver.complete_multipart_upload(Bucket("r"), "joined", upload.upload_id, [1, 2], etag="e-2",
                                                 checksums={})  # fmt: skip
    stream = await parts.driver.get_object(Bucket("r"), "joined")
    assert b"".join([b async for b in stream.read(5 * MiB - 2, 5 * MiB + 10)]) == b"aa" + b"b" * 10


async def test_an_expired_upload_is_no_such_upload_and_its_records_go(parts: DriverParts, tmp_path: Path) -> None:
    upload = await parts.driver.create_multipart_upload(Bucket("r"), "k", ObjectMeta())
    await parts.driver.upload_part(Bucket("r"), "k", upload.upload_id, 1, body(b"x"))
    expired, _ = _replica(parts, tmp_path, expiry=timedelta(0))
    with pytest.raises(errors.NoSuchUpload):
        await expired.upload_part(Bucket("r"), "k", upload.upload_id, 2, body(b"y"))
    assert [u async for u in parts.driver.list_uploads(Bucket("r"))] == []
    assert [k async for k in parts.store.backend.list("s3-gateway/")] == []
