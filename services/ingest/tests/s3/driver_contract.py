"""The `Driver` contract as a test suite: subclass `DriverContract` and provide a `driver` fixture.

`test_s3_memory_driver.py` runs it against `MemoryDriver`; the ingest's real driver (versioning + chunk
store) runs the same suite, which pins the fake to the real adapter.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator

import pytest

from tusk_common.errors import Conflict, TuskError
from tusk_ingest.s3 import checksums as ck
from tusk_ingest.s3 import errors
from tusk_ingest.s3.buckets import Bucket
from tusk_ingest.s3.driver import CommonPrefix, Driver, ObjectMeta, ObjectSummary, ObjectVersion
from tusk_ingest.s3.payload import RequestPayload

REPO = Bucket("images")
MiB = 1024 * 1024


def body(data: bytes, *, fail_at_end: Exception | None = None, algorithms: tuple[str, ...] = (),
         content_md5: bytes | None = None) -> RequestPayload:
    async def source() -> AsyncIterator[bytes]:
        for at in range(0, len(data), 64 * 1024):
            yield data[at:at + 64 * 1024]
        if fail_at_end is not None:
            raise fail_at_end

    return RequestPayload(source(), max_size=1 << 40, algorithms=algorithms, content_md5=content_md5)


async def read_all(driver: Driver, bucket: Bucket, key: str, version_id: str | None = None) -> bytes:
    stream = await driver.get_object(bucket, key, version_id=version_id)
    return b"".join([p async for p in stream.read(0, stream.info.size)])


async def listing(driver: Driver, bucket: Bucket = REPO, **kw: object) -> list[str]:
    out = []
    async for item in driver.list_objects(bucket, **kw):  # type: ignore[arg-type]
        out.append(item.prefix if isinstance(item, CommonPrefix) else item.key)
    return out


class DriverContract:
    """Behaviour every Driver keeps; the S3 protocol layer relies on each of these."""

    async def test_buckets_are_repos_and_branches(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        await driver.create_bucket(Bucket("images", "dev"))
        names = [b.bucket.name for b in await driver.list_buckets()]
        assert "images" in names and "dev.images" in names and "master.images" not in names
        await driver.head_bucket(Bucket("images", "master"))
        with pytest.raises(errors.BucketAlreadyOwnedByYou):
            await driver.create_bucket(REPO)
        with pytest.raises(errors.NoSuchBucket):
            await driver.head_bucket(Bucket("nope"))
        with pytest.raises(errors.NoSuchBucket):
            await driver.head_bucket(Bucket("images", "nope"))

    async def test_delete_bucket_rules(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        await driver.put_object(REPO, "a", body(b"1"), ObjectMeta())
        await driver.create_bucket(Bucket("images", "dev"))
        with pytest.raises(errors.BucketNotEmpty):
            await driver.delete_bucket(REPO)
        await driver.delete_bucket(Bucket("images", "dev"))
        with pytest.raises(errors.BucketNotEmpty):
            await driver.delete_bucket(REPO)
        await driver.delete_object(REPO, "a")
        await driver.delete_bucket(REPO)
        with pytest.raises(errors.NoSuchBucket):
            await driver.head_bucket(REPO)

    async def test_put_then_read_any_range_with_metadata(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        data = bytes(range(256)) * 1000
        meta = ObjectMeta("text/csv", {"a": "1"}, {"cache-control": "no-cache"})
        put = await driver.put_object(REPO, "d/f.csv", body(data, algorithms=("crc32",)), meta)
        assert put.etag == hashlib.md5(data).hexdigest()
        info = await driver.head_object(REPO, "d/f.csv")
        assert (info.size, info.etag, info.meta, info.version_id) == (len(data), put.etag, meta, put.version_id)
        assert info.checksums == {"crc32": ck.compute("crc32", data)}
        stream = await driver.get_object(REPO, "d/f.csv")
        assert b"".join([p async for p in stream.read(1000, 2000)]) == data[1000:2000]
        await driver.put_object(REPO, "d/f.csv", body(b"new"), ObjectMeta())
        assert b"".join([p async for p in stream.read(0, 5)]) == data[:5]  # the version it resolved
        assert await read_all(driver, REPO, "d/f.csv", put.version_id) == data
        with pytest.raises(errors.NoSuchKey):
            await driver.head_object(REPO, "missing")

    async def test_a_body_that_fails_stores_nothing(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        with pytest.raises(errors.BadDigest):
            await driver.put_object(REPO, "x", body(b"data", fail_at_end=errors.BadDigest()), ObjectMeta())
        with pytest.raises(errors.NoSuchKey):
            await driver.head_object(REPO, "x")

    async def test_content_md5_is_checked_whether_a_body_is_stored_in_one_step_or_streamed(
        self, driver: Driver
    ) -> None:
        await driver.create_bucket(REPO)
        upload = await driver.create_multipart_upload(REPO, "p", ObjectMeta())
        for data in (b"small", bytes(range(256)) * (12 * 1024)):  # 3 MiB: cut into chunks as it streams
            md5 = hashlib.md5(data)
            put = await driver.put_object(REPO, "m", body(data, content_md5=md5.digest()), ObjectMeta())
            assert put.etag == md5.hexdigest()
            with pytest.raises(errors.BadDigest):
                await driver.put_object(REPO, "m", body(data[::-1], content_md5=md5.digest()), ObjectMeta())
            assert await read_all(driver, REPO, "m") == data
            part = await driver.upload_part(REPO, "p", upload.upload_id, 1, body(data, content_md5=md5.digest()))
            assert part.etag == md5.hexdigest()
            with pytest.raises(errors.BadDigest):
                await driver.upload_part(REPO, "p", upload.upload_id, 2, body(data[::-1], content_md5=md5.digest()))
            assert [p.part_number async for p in driver.list_parts(REPO, "p", upload.upload_id)] == [1]

    async def test_conditional_writes(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        first = await driver.put_object(REPO, "k", body(b"1"), ObjectMeta(), if_none_match=True)
        with pytest.raises(errors.PreconditionFailed):
            await driver.put_object(REPO, "k", body(b"2"), ObjectMeta(), if_none_match=True)
        with pytest.raises(errors.PreconditionFailed):
            await driver.put_object(REPO, "k", body(b"2"), ObjectMeta(), if_match="0" * 32)
        await driver.put_object(REPO, "k", body(b"3"), ObjectMeta(), if_match=first.etag)
        assert await read_all(driver, REPO, "k") == b"3"

    async def test_listing_order_prefix_delimiter_and_start_after(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        for key in ("b/2", "a", "b/1", "c/x/y", "é", "b0"):
            await driver.put_object(REPO, key, body(key.encode()), ObjectMeta())
        assert await listing(driver) == ["a", "b/1", "b/2", "b0", "c/x/y", "é"]
        assert await listing(driver, delimiter="/") == ["a", "b/", "b0", "c/", "é"]
        assert await listing(driver, prefix="b/") == ["b/1", "b/2"]
        assert await listing(driver, prefix="c/", delimiter="/") == ["c/x/"]
        assert await listing(driver, start_after="b/1") == ["b/2", "b0", "c/x/y", "é"]
        assert await listing(driver, delimiter="/", start_after="b/") == ["b0", "c/", "é"]
        first = await anext(aiter(driver.list_objects(REPO, limit=1)))
        assert isinstance(first, ObjectSummary) and first.size == 1

    async def test_listing_is_in_byte_order_around_characters_below_the_slash(self, driver: Driver) -> None:
        # A tree walk puts `a/...` right after `a`; S3 order puts `a b`, `a!`, `a-b`, `a.c` first.
        keys = _tricky_keys()
        await driver.create_bucket(REPO)
        for key in keys:
            await driver.put_object(REPO, key, body(key.encode()), ObjectMeta())
        prefixes = ["", "a", "a/", "a-", "a/a", "b/", "zz", "a-b/"]
        starts = ["", "a", "a ", "a!", "a-b", "a-b/", "a-b/a", "a.", "a/", "a/a-b", "a/a/", "a0", "b", "é", "/a", "a//"]
        for prefix in prefixes:
            for start in starts:
                for delimiter in (None, "/", "-"):
                    want = _expected(keys, prefix, delimiter, start)
                    got = await listing(driver, prefix=prefix, delimiter=delimiter, start_after=start)
                    assert got == want, (prefix, start, delimiter)
        limited = [item async for item in driver.list_objects(REPO, limit=2)]  # a hint, not a cut
        assert [i.key for i in limited if isinstance(i, ObjectSummary)] == sorted(keys)

    async def test_keys_are_file_paths(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        await driver.put_object(REPO, "dir/", body(b""), ObjectMeta())  # a folder marker: nothing
        assert await listing(driver) == []
        await driver.put_object(REPO, "f", body(b"1"), ObjectMeta())
        with pytest.raises(Conflict):
            await driver.put_object(REPO, "f/g", body(b"2"), ObjectMeta())
        with pytest.raises(TuskError):
            await driver.put_object(REPO, "a//b", body(b"2"), ObjectMeta())

    async def test_copy_is_by_reference_and_can_replace_metadata(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        await driver.create_bucket(Bucket("other"))
        src = await driver.put_object(REPO, "s", body(b"bytes"), ObjectMeta(user={"m": "1"}))
        copied = await driver.copy_object(REPO, "s", Bucket("other"), "d/s")
        assert copied.etag == src.etag
        assert (await driver.head_object(Bucket("other"), "d/s")).meta.user == {"m": "1"}
        await driver.copy_object(REPO, "s", REPO, "s", meta=ObjectMeta(user={"m": "2"}))
        assert (await driver.head_object(REPO, "s")).meta.user == {"m": "2"}

    async def test_delete_objects_is_one_write(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        for key in ("a", "b"):
            await driver.put_object(REPO, key, body(b"x"), ObjectMeta())
        results = await driver.delete_objects(REPO, ["a", "b", "missing"])
        assert [r.key for r in results] == ["a", "b", "missing"]
        assert results[0].version_id == results[1].version_id is not None
        assert results[2].version_id is None
        assert await listing(driver) == []

    async def test_commit_buckets_read_snapshots_and_versions_are_commits(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        v1 = await driver.put_object(REPO, "k", body(b"one"), ObjectMeta())
        v2 = await driver.put_object(REPO, "k", body(b"two"), ObjectMeta())
        await driver.delete_object(REPO, "k")
        assert v1.version_id and v2.version_id
        snapshot = Bucket("images", "master", v1.version_id)
        assert await read_all(driver, snapshot, "k") == b"one"
        versions = [v async for v in driver.list_object_versions(REPO)]
        assert all(isinstance(v, ObjectVersion) for v in versions)
        assert [(v.version_id, v.delete_marker, v.is_latest) for v in versions][1:] == \
            [(v2.version_id, False, False), (v1.version_id, False, False)]
        assert versions[0].delete_marker and versions[0].is_latest
        with pytest.raises(errors.NoSuchVersion):
            await driver.head_object(REPO, "k", version_id="f" * 32)

    async def test_multipart_lifecycle(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        upload = await driver.create_multipart_upload(REPO, "m", ObjectMeta(user={"u": "1"}),
                                                      checksum_algorithm="crc32", checksum_type="COMPOSITE")
        p2 = await driver.upload_part(REPO, "m", upload.upload_id, 2, body(b"b" * 10, algorithms=("crc32",)))
        p1 = await driver.upload_part(REPO, "m", upload.upload_id, 1, body(b"a" * MiB, algorithms=("crc32",)))
        assert p2.checksums == {"crc32": ck.compute("crc32", b"b" * 10)}
        assert [p.part_number async for p in driver.list_parts(REPO, "m", upload.upload_id)] == [1, 2]
        assert [p.part_number async for p in driver.list_parts(REPO, "m", upload.upload_id, after=1)] == [2]
        assert [u.upload_id async for u in driver.list_uploads(REPO)] == [upload.upload_id]
        assert (await driver.inspect_upload(REPO, "m", upload.upload_id)).checksum_algorithm == "crc32"
        with pytest.raises(errors.NoSuchUpload):
            await driver.inspect_upload(REPO, "other-key", upload.upload_id)
        etag = ck.multipart_etag([p1.etag, p2.etag])
        done = await driver.complete_multipart_upload(REPO, "m", upload.upload_id, [1, 2], etag=etag,
                                                      checksums={"crc32": "AAAAAA==-2"})
        info = await driver.head_object(REPO, "m")
        assert (info.etag, info.size, info.version_id, info.meta.user) == (etag, MiB + 10, done.version_id,
                                                                           {"u": "1"})
        assert await read_all(driver, REPO, "m") == b"a" * MiB + b"b" * 10
        with pytest.raises(errors.NoSuchUpload):
            await driver.inspect_upload(REPO, "m", upload.upload_id)

    async def test_abort_and_part_copy(self, driver: Driver) -> None:
        await driver.create_bucket(REPO)
        await driver.put_object(REPO, "src", body(b"0123456789"), ObjectMeta())
        upload = await driver.create_multipart_upload(REPO, "m", ObjectMeta())
        part = await driver.upload_part_copy(REPO, "m", upload.upload_id, 1, src=REPO, src_key="src",
                                             src_version_id=None, start=2, stop=5)
        assert part.size == 3
        await driver.abort_multipart_upload(REPO, "m", upload.upload_id)
        assert [u async for u in driver.list_uploads(REPO)] == []
        with pytest.raises(errors.NoSuchKey):
            await driver.head_object(REPO, "m")


def _tricky_keys() -> list[str]:
    """File paths whose names extend each other with characters below and above `/`."""
    names = ["a", "a b", "a!", "a-b", "a.c", "a0", "ab", "b", "é"]
    keys = {"/".join(p) for i, p in enumerate(itertools.product(names, repeat=2)) if i % 3 != 1}
    keys |= {"a/a/a", "a/a-b/x", "a-b/a", "a-b/a.c", "b/a b/c", "é/é", "a-", "a.", "a.c.d", "a0-", "a/a-"}
    keys -= {"a", "a-b", "b", "é", "a/a", "a/a-b", "a-b/a", "b/a b"}  # directories cannot be files too
    files = set(keys)
    return sorted(k for k in keys if not any(k.startswith(f + "/") for f in files))


def _expected(keys: list[str], prefix: str, delimiter: str | None, start_after: str) -> list[str]:
    out: list[str] = []
    for key in sorted(keys):
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        item = key[: cut + len(delimiter or "")] if cut >= 0 else key
        if item > start_after and (not out or out[-1] != item):
            out.append(item)
    return out
