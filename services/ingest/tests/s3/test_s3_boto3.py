"""boto3 against the gateway over loopback: the operations users run, as boto3 really sends them."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.error import HTTPError

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from s3_server import ACCESS_KEY, Served, client

MiB = 1024 * 1024


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    err = e.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_buckets_are_repos_and_branches(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    s3.create_bucket(Bucket="dev.images")
    s3.create_bucket(Bucket="logs")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == ["images", "dev.images", "logs"]
    s3.head_bucket(Bucket="dev.images")
    s3.head_bucket(Bucket="master.images")  # the default branch, named
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="images")
    assert code_of(e) == (409, "BucketAlreadyOwnedByYou")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="nope")
    assert code_of(e)[0] == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="nope")
    assert code_of(e) == (404, "NoSuchBucket")
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="a.b.c.d")
    assert code_of(e) == (400, "InvalidBucketName")
    assert s3.get_bucket_location(Bucket="images")["LocationConstraint"] is None
    assert s3.get_bucket_versioning(Bucket="images")["Status"] == "Enabled"


def test_a_new_branch_bucket_starts_from_the_default_branch(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    s3.put_object(Bucket="images", Key="cat.png", Body=b"meow")
    s3.create_bucket(Bucket="dev.images")
    assert s3.get_object(Bucket="dev.images", Key="cat.png")["Body"].read() == b"meow"
    s3.put_object(Bucket="dev.images", Key="dog.png", Body=b"woof")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="images", Key="dog.png")
    assert code_of(e)[0] == 404


def test_delete_bucket_deletes_branches_and_only_empty_repos(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    s3.put_object(Bucket="images", Key="a", Body=b"1")
    s3.create_bucket(Bucket="dev.images")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="images")  # the default branch while dev exists
    assert code_of(e) == (409, "BucketNotEmpty")
    s3.delete_bucket(Bucket="dev.images")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="images")  # the last branch, holding a file
    assert code_of(e) == (409, "BucketNotEmpty")
    s3.delete_object(Bucket="images", Key="a")
    s3.delete_bucket(Bucket="images")
    assert s3.list_buckets()["Buckets"] == []


def test_put_get_head_delete_keep_bytes_metadata_and_etag(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    body = os.urandom(100_000)
    put = s3.put_object(Bucket="images", Key="raw/a.bin", Body=body, ContentType="image/png",
                        Metadata={"camera": "nikon", "Owner": "Ann"}, CacheControl="max-age=60",
                        ContentDisposition='attachment; filename="a.bin"')
    assert put["ETag"] == f'"{md5(body)}"'
    got = s3.get_object(Bucket="images", Key="raw/a.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "image/png"
    assert got["Metadata"] == {"camera": "nikon", "owner": "Ann"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="a.bin"'
    assert got["VersionId"] == put["VersionId"]
    head = s3.head_object(Bucket="images", Key="raw/a.bin")
    assert head["ContentLength"] == len(body)
    assert head["Metadata"]["camera"] == "nikon"
    deleted = s3.delete_object(Bucket="images", Key="raw/a.bin")
    assert deleted["DeleteMarker"] is True
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="images", Key="raw/a.bin")
    assert code_of(e) == (404, "NoSuchKey")
    s3.delete_object(Bucket="images", Key="raw/a.bin")  # deleting a missing key succeeds


def test_versions_are_commits_and_null_is_current(s3, gateway: Served) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    v1 = s3.put_object(Bucket="images", Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="images", Key="k", Body=b"two")["VersionId"]
    assert gateway.driver.commits("images")[:2] == [v2, v1]
    assert s3.get_object(Bucket="images", Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket="images", Key="k", VersionId="null")["Body"].read() == b"two"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="images", Key="k", VersionId="0" * 32)
    assert code_of(e) == (404, "NoSuchVersion")
    s3.delete_object(Bucket="images", Key="k")
    versions = s3.list_object_versions(Bucket="images")
    assert [(v["VersionId"], v["IsLatest"]) for v in versions["Versions"]] == [(v2, False), (v1, False)]
    assert [m["IsLatest"] for m in versions["DeleteMarkers"]] == [True]
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="images", Key="k", VersionId=v1)
    assert code_of(e) == (501, "NotImplemented")


def test_commit_buckets_are_read_only_snapshots(s3, gateway: Served) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    first = s3.put_object(Bucket="images", Key="a.txt", Body=b"old")["VersionId"]
    s3.put_object(Bucket="images", Key="a.txt", Body=b"new")
    snapshot = f"{first}.master.images"
    assert s3.get_object(Bucket=snapshot, Key="a.txt")["Body"].read() == b"old"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=snapshot)["Contents"]] == ["a.txt"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=snapshot, Key="b.txt", Body=b"x")
    assert code_of(e) == (405, "MethodNotAllowed")
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=snapshot, Key="a.txt")
    assert code_of(e) == (405, "MethodNotAllowed")


def test_writes_land_in_an_open_commit(s3, gateway: Served) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    commit = gateway.driver.start_commit("images")
    results = [s3.put_object(Bucket="images", Key=f"f{i}", Body=b"x")["VersionId"] for i in range(3)]
    assert results == [commit] * 3
    gateway.driver.finish_commit("images")
    assert s3.put_object(Bucket="images", Key="f9", Body=b"y")["VersionId"] != commit


def test_ranged_get_and_unsatisfiable_range(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    body = bytes(range(256)) * 4
    s3.put_object(Bucket="images", Key="r", Body=body)
    part = s3.get_object(Bucket="images", Key="r", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket="images", Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket="images", Key="r", Range="bytes=1000-")["Body"].read() == body[1000:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="images", Key="r", Range="bytes=5000-6000")
    assert code_of(e) == (416, "InvalidRange")


def test_conditional_reads(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    etag = s3.put_object(Bucket="images", Key="c", Body=b"data")["ETag"]
    assert s3.get_object(Bucket="images", Key="c", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="images", Key="c", IfNoneMatch=etag)
    assert code_of(e)[0] == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="images", Key="c", IfMatch='"0123"')
    assert code_of(e) == (412, "PreconditionFailed")
    future = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="images", Key="c", IfModifiedSince=future)
    assert code_of(e)[0] == 304
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="images", Key="c", IfUnmodifiedSince=datetime(2000, 1, 1, tzinfo=UTC))
    assert code_of(e)[0] == 412


def test_if_none_match_star_creates_only_once(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    s3.put_object(Bucket="images", Key="once", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="images", Key="once", Body=b"2", IfNoneMatch="*")
    assert code_of(e) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket="images", Key="once")["Body"].read() == b"1"


def test_multipart_upload_of_50_mib_with_8_concurrent_parts(s3, gateway: Served) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    data = os.urandom(50 * MiB)
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB, max_concurrency=8,
                            preferred_transfer_client="classic")
    s3.upload_fileobj(io.BytesIO(data), "images", "big/blob.bin", Config=config)
    head = s3.head_object(Bucket="images", Key="big/blob.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    parts = [data[i:i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert head["ETag"] == f'"{expected}-{len(parts)}"'
    assert head["PartsCount"] == len(parts)
    crcs = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    assert head["ChecksumCRC32"] == base64.b64encode(zlib.crc32(crcs).to_bytes(4, "big")).decode() + "-10"
    out = io.BytesIO()
    s3.download_fileobj("images", "big/blob.bin", out, Config=config)
    assert out.getvalue() == data
    second = s3.get_object(Bucket="images", Key="big/blob.bin", PartNumber=2)
    assert second["Body"].read() == parts[1]


def test_multipart_rules_and_listing(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    s3.put_object(Bucket="images", Key="src", Body=b"S" * (6 * MiB))
    up = s3.create_multipart_upload(Bucket="images", Key="m", Metadata={"k": "v"})["UploadId"]
    other = s3.create_multipart_upload(Bucket="images", Key="dir/n")["UploadId"]
    p1 = s3.upload_part(Bucket="images", Key="m", UploadId=up, PartNumber=1, Body=b"a" * (5 * MiB))["ETag"]
    p2 = s3.upload_part_copy(Bucket="images", Key="m", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": "images", "Key": "src"},
                             CopySourceRange="bytes=0-1023")["CopyPartResult"]["ETag"]
    p3 = s3.upload_part(Bucket="images", Key="m", UploadId=up, PartNumber=3, Body=b"tail")["ETag"]
    listed = s3.list_parts(Bucket="images", Key="m", UploadId=up, MaxParts=2)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2] and listed["IsTruncated"]
    rest = s3.list_parts(Bucket="images", Key="m", UploadId=up, PartNumberMarker=2)
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]
    uploads = s3.list_multipart_uploads(Bucket="images")
    assert sorted(u["Key"] for u in uploads["Uploads"]) == ["dir/n", "m"]
    rolled = s3.list_multipart_uploads(Bucket="images", Delimiter="/")
    assert [c["Prefix"] for c in rolled["CommonPrefixes"]] == ["dir/"]

    def complete(parts: list[tuple[int, str]]) -> None:
        s3.complete_multipart_upload(Bucket="images", Key="m", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": t} for n, t in parts]})

    with pytest.raises(ClientError) as e:
        complete([(2, p2), (1, p1)])
    assert code_of(e) == (400, "InvalidPartOrder")
    with pytest.raises(ClientError) as e:
        complete([(1, p1), (2, '"ffffffffffffffffffffffffffffffff"')])
    assert code_of(e) == (400, "InvalidPart")
    with pytest.raises(ClientError) as e:
        complete([(1, p1), (2, p2), (3, p3)])  # part 2 (1 KiB) is not the last: too small
    assert code_of(e) == (400, "EntityTooSmall")
    complete([(1, p1), (3, p3)])
    got = s3.get_object(Bucket="images", Key="m")
    assert got["Body"].read() == b"a" * (5 * MiB) + b"tail"
    assert got["Metadata"] == {"k": "v"}
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="images", Key="m", UploadId=up)
    assert code_of(e) == (404, "NoSuchUpload")
    s3.abort_multipart_upload(Bucket="images", Key="dir/n", UploadId=other)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="images")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="images", Key="dir/n")
    assert code_of(e)[0] == 404


def test_paginated_listing_of_2500_keys_with_delimiter(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="logs")
    keys = [f"d{i % 5}/k{i:04d}.json" for i in range(2450)] + [f"top{i:02d}.txt" for i in range(50)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket="logs", Key=k, Body=k.encode()), keys))
    v2 = s3.get_paginator("list_objects_v2")
    pages = list(v2.paginate(Bucket="logs", PaginationConfig={"PageSize": 1000}))
    assert len(pages) == 3
    listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert listed == sorted(keys)
    rolled = list(v2.paginate(Bucket="logs", Delimiter="/", PaginationConfig={"PageSize": 7}))
    prefixes = [c["Prefix"] for p in rolled for c in p.get("CommonPrefixes", [])]
    tops = [o["Key"] for p in rolled for o in p.get("Contents", [])]
    assert prefixes == [f"d{i}/" for i in range(5)]
    assert tops == [f"top{i:02d}.txt" for i in range(50)]
    one_dir = [o["Key"] for p in v2.paginate(Bucket="logs", Prefix="d3/", Delimiter="/")
               for o in p.get("Contents", [])]
    assert one_dir == sorted(k for k in keys if k.startswith("d3/"))
    v1 = s3.get_paginator("list_objects")
    v1_keys = [o["Key"] for p in v1.paginate(Bucket="logs", PaginationConfig={"PageSize": 600})
               for o in p.get("Contents", [])]
    assert v1_keys == sorted(keys)
    after = s3.list_objects_v2(Bucket="logs", StartAfter="d4/k2440.json", MaxKeys=3)
    assert [o["Key"] for o in after["Contents"]] == ["d4/k2444.json", "d4/k2449.json", "top00.txt"]


def test_copy_object_within_and_across_repos(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    s3.create_bucket(Bucket="backup")
    etag = s3.put_object(Bucket="images", Key="a", Body=b"content", Metadata={"m": "1"})["ETag"]
    copied = s3.copy_object(Bucket="backup", Key="b/a", CopySource={"Bucket": "images", "Key": "a"})
    assert copied["CopyObjectResult"]["ETag"] == etag
    got = s3.get_object(Bucket="backup", Key="b/a")
    assert got["Body"].read() == b"content" and got["Metadata"] == {"m": "1"}
    s3.copy_object(Bucket="images", Key="a", CopySource="images/a", MetadataDirective="REPLACE",
                   Metadata={"m": "2"}, ContentType="text/plain")
    head = s3.head_object(Bucket="images", Key="a")
    assert head["Metadata"] == {"m": "2"} and head["ContentType"] == "text/plain"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="images", Key="a", CopySource="images/a")
    assert code_of(e) == (400, "InvalidRequest")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="images", Key="z", CopySource="images/a", CopySourceIfMatch='"nope"')
    assert code_of(e) == (412, "PreconditionFailed")


def test_delete_objects_is_one_commit(s3, gateway: Served) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    for k in ("a", "b", "c"):
        s3.put_object(Bucket="images", Key=k, Body=k.encode())
    before = len(gateway.driver.commits("images"))
    out = s3.delete_objects(Bucket="images", Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["a", "b", "zz"]
    assert len(gateway.driver.commits("images")) == before + 1
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="images")["Contents"]] == ["c"]
    quiet = s3.delete_objects(Bucket="images", Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet


def test_presigned_get_and_tampered_url(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    s3.put_object(Bucket="images", Key="dir/shared file.txt", Body=b"shared")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "images", "Key": "dir/shared file.txt"},
                                    ExpiresIn=60)
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"shared"
    with pytest.raises(HTTPError) as e:
        urllib.request.urlopen(url.replace("shared%20file", "other%20file"))
    assert e.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": "images", "Key": "dir/shared file.txt"},
                                        ExpiresIn=0)
    with pytest.raises(HTTPError) as e:
        urllib.request.urlopen(expired.replace("X-Amz-Expires=0", "X-Amz-Expires=0"))
    body = e.value.read()
    assert e.value.code == 403 and b"Request has expired" in body


def test_wrong_secret_and_unknown_key_are_refused(gateway: Served) -> None:
    good = client(gateway.url)
    good.create_bucket(Bucket="images")
    import boto3
    from botocore.config import Config

    def other(access: str, secret: str):  # type: ignore[no-untyped-def]
        return boto3.client("s3", endpoint_url=gateway.url, region_name="us-east-1", aws_access_key_id=access,
                            aws_secret_access_key=secret,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    with pytest.raises(ClientError) as e:
        other(ACCESS_KEY, "wrong").put_object(Bucket="images", Key="x", Body=b"evil")
    assert code_of(e) == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError) as e:
        other("nobody", "wrong").list_buckets()
    assert code_of(e) == (403, "InvalidAccessKeyId")
    with pytest.raises(ClientError) as e:
        good.head_object(Bucket="images", Key="x")
    assert code_of(e)[0] == 404  # nothing was written


def test_unicode_keys_with_spaces_and_special_characters(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    keys = ["données/été 2024/résumé final.csv", "日本語 ファイル.txt", "a+b=c&d;e,f@g$h.txt",
            "spaces  two/  lead.txt", "emoji/🐘 tusk.bin", "percent%20literal.txt"]
    for k in keys:
        s3.put_object(Bucket="images", Key=k, Body=k.encode())
    for k in keys:
        assert s3.get_object(Bucket="images", Key=k)["Body"].read() == k.encode()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="images")["Contents"]] == sorted(keys)
    assert [o["Key"] for o in s3.list_objects(Bucket="images")["Contents"]] == sorted(keys)
    prefixes = s3.list_objects_v2(Bucket="images", Delimiter="/", Prefix="données/")["CommonPrefixes"]
    assert prefixes == [{"Prefix": "données/été 2024/"}]


def test_flexible_checksums_as_boto3_sends_them(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    body = b"checksummed " * 1000
    put = s3.put_object(Bucket="images", Key="default", Body=body)  # boto3 >= 1.36: CRC32 by default
    crc32 = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert put["ChecksumCRC32"] == crc32
    head = s3.head_object(Bucket="images", Key="default", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32
    sha = s3.put_object(Bucket="images", Key="sha", Body=body, ChecksumAlgorithm="SHA256")
    assert sha["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    got = s3.get_object(Bucket="images", Key="sha", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got["ChecksumSHA256"] == sha["ChecksumSHA256"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="images", Key="bad", Body=body, ChecksumCRC32="AAAAAA==")
    assert code_of(e) == (400, "BadDigest")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="images", Key="bad")
    assert code_of(e)[0] == 404


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_trailer_checksums_over_tls_as_aws_chunked(tls_gateway: Served, algorithm: str) -> None:
    """Over HTTPS boto3 sends the body aws-chunked with the checksum as a trailer (unsigned payload)."""
    pytest.importorskip("awscrt")
    s3 = client(tls_gateway.url)
    seen: dict[str, str] = {}
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: seen.update(
        {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}))
    s3.create_bucket(Bucket="images")
    body = os.urandom(3 * MiB + 17)
    put = s3.put_object(Bucket="images", Key="t", Body=io.BytesIO(body), ChecksumAlgorithm=algorithm)
    assert seen["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert seen["x-amz-trailer"] == f"x-amz-checksum-{algorithm.lower()}"
    got = s3.get_object(Bucket="images", Key="t", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got[f"Checksum{algorithm}"] == put[f"Checksum{algorithm}"]
    assert got["ETag"] == f'"{md5(body)}"'


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_multipart_over_tls_with_crc64nvme_full_object_checksum(tls_gateway: Served) -> None:
    pytest.importorskip("awscrt")
    from awscrt import checksums as crt

    s3 = client(tls_gateway.url)
    s3.create_bucket(Bucket="images")
    data = os.urandom(12 * MiB)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4,
                            preferred_transfer_client="classic")
    s3.upload_fileobj(io.BytesIO(data), "images", "nv.bin", Config=config,
                      ExtraArgs={"ChecksumAlgorithm": "CRC64NVME"})
    head = s3.head_object(Bucket="images", Key="nv.bin", ChecksumMode="ENABLED")
    expected = base64.b64encode(crt.crc64nvme(data).to_bytes(8, "big")).decode()
    assert head["ChecksumCRC64NVME"] == expected and head["ChecksumType"] == "FULL_OBJECT"
    out = io.BytesIO()
    s3.download_fileobj("images", "nv.bin", out)
    assert out.getvalue() == data


def test_signature_v2_client(gateway: Served) -> None:
    old = client(gateway.url, signature_version="s3")
    old.create_bucket(Bucket="legacy")
    old.put_object(Bucket="legacy", Key="dir/a b.txt", Body=b"v2", Metadata={"x": "y"})
    assert old.get_object(Bucket="legacy", Key="dir/a b.txt")["Body"].read() == b"v2"
    assert [o["Key"] for o in old.list_objects(Bucket="legacy")["Contents"]] == ["dir/a b.txt"]
    url = old.generate_presigned_url("get_object", Params={"Bucket": "legacy", "Key": "dir/a b.txt"})
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"v2"
    bad = client(gateway.url, signature_version="s3")
    bad._request_signer._credentials.secret_key = "wrong"  # type: ignore[attr-defined]
    with pytest.raises(ClientError) as e:
        bad.list_objects(Bucket="legacy")
    assert code_of(e) == (403, "SignatureDoesNotMatch")


def test_unsupported_operations_answer_not_implemented(s3) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="images")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket="images")
    assert code_of(e) == (501, "NotImplemented")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(Bucket="images", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert code_of(e) == (501, "NotImplemented")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="images", Key="enc", Body=b"x", ServerSideEncryption="AES256")
    assert code_of(e) == (501, "NotImplemented")
