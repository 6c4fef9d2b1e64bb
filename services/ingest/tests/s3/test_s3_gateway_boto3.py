"""boto3 against the real gateway (ingest + versioning on NATS and Postgres): the calls users make."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from tusk_stack import GatewayThread, unique

pytestmark = pytest.mark.xdist_group("s3-gateway-boto3")
MiB = 1024 * 1024


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def test_put_get_head_list_delete_round_trip(tusk_gateway: GatewayThread) -> None:
    s3 = tusk_gateway.boto3()
    repo = unique()
    s3.create_bucket(Bucket=repo)
    data = b"x,y\n1,2\n"
    put = s3.put_object(Bucket=repo, Key="dir/a.csv", Body=data, ContentType="text/csv",
                        Metadata={"owner": "ana"}, CacheControl="no-cache")
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=repo, Key="dir/a.csv")
    assert got["Body"].read() == b"x,y\n1,2\n"
    assert (got["ContentType"], got["Metadata"], got["CacheControl"]) == ("text/csv", {"owner": "ana"}, "no-cache")
    assert got["VersionId"] == put["VersionId"]
    head = s3.head_object(Bucket=repo, Key="dir/a.csv")
    assert head["ContentLength"] == 8 and head["ETag"] == put["ETag"]
    listed = s3.list_objects_v2(Bucket=repo)
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a.csv"]
    assert listed["Contents"][0]["ETag"] == put["ETag"]
    # the REST API sees the same file, with the metadata versioning stores for it
    info = tusk_gateway.run(tusk_gateway.versioning.inspect_file(repo, "master", "/dir/a.csv"))
    assert info.meta["content-type"] == "text/csv" and info.meta["x-amz-meta-owner"] == "ana"
    s3.delete_object(Bucket=repo, Key="dir/a.csv")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=repo, Key="dir/a.csv")
    assert _code(err) == "NoSuchKey"
    s3.delete_bucket(Bucket=repo)
    assert repo not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_multipart_upload_of_50_mib_then_ranged_gets(tusk_gateway: GatewayThread, tmp_path) -> None:
    s3 = tusk_gateway.boto3()
    repo = unique()
    s3.create_bucket(Bucket=repo)
    data = os.urandom(50 * MiB)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    s3.upload_file(str(src), repo, "data/big.bin", Config=config)
    head = s3.head_object(Bucket=repo, Key="data/big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-7"')
    assert s3.head_object(Bucket=repo, Key="data/big.bin", PartNumber=2)["ContentLength"] == 8 * MiB
    part = s3.get_object(Bucket=repo, Key="data/big.bin", Range="bytes=10485750-10485769")
    assert part["ContentRange"] == f"bytes 10485750-10485769/{len(data)}"
    assert part["Body"].read() == data[10485750:10485770]
    tail = s3.get_object(Bucket=repo, Key="data/big.bin", Range="bytes=-5")["Body"].read()
    assert tail == data[-5:]
    out = tmp_path / "back.bin"
    s3.download_file(repo, "data/big.bin", str(out), Config=config)
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert s3.list_multipart_uploads(Bucket=repo).get("Uploads", []) == []


def test_paginated_listing_of_2500_keys_with_a_delimiter(tusk_gateway: GatewayThread) -> None:
    s3 = tusk_gateway.boto3()
    repo = unique()
    s3.create_bucket(Bucket=repo)
    # 2,500 keys in one commit through versioning (2,500 single PUTs would test PUT, not listing)
    from tusk_common.wire.versioning import FileChange

    content = tusk_gateway.run(tusk_gateway.ingest.deps.store.write_bytes(b"v"))  # type: ignore[union-attr]
    keys = [f"logs/{d:02d}/part-{i:03d}.json" for d in range(25) for i in range(100)]
    changes = [FileChange(op="put", path="/" + k, content=content) for k in keys]
    tusk_gateway.run(tusk_gateway.versioning.put_files(repo, "master", changes))
    s3.put_object(Bucket=repo, Key="logs-index.txt", Body=b"i")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=repo, Prefix="logs/", PaginationConfig={"PageSize": 300})
    got = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert got == sorted(keys)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=repo, Delimiter="/", Prefix="logs/",
                                                         PaginationConfig={"PageSize": 10})
    prefixes = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
    assert prefixes == [f"logs/{d:02d}/" for d in range(25)]
    top = s3.list_objects_v2(Bucket=repo, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["logs/"]
    assert [o["Key"] for o in top["Contents"]] == ["logs-index.txt"]
    v1 = s3.get_paginator("list_objects").paginate(Bucket=repo, PaginationConfig={"PageSize": 1000})
    assert [o["Key"] for page in v1 for o in page.get("Contents", [])] == sorted([*keys, "logs-index.txt"])


def test_copy_is_by_reference_across_repos_and_branches(tusk_gateway: GatewayThread) -> None:
    s3 = tusk_gateway.boto3()
    a, b = unique(), unique()
    s3.create_bucket(Bucket=a)
    s3.create_bucket(Bucket=b)
    s3.create_bucket(Bucket=f"dev.{a}")
    src = s3.put_object(Bucket=a, Key="src.bin", Body=b"payload" * 1000, Metadata={"k": "1"})
    s3.copy_object(Bucket=b, Key="copies/src.bin", CopySource={"Bucket": a, "Key": "src.bin"})
    s3.copy_object(Bucket=f"dev.{a}", Key="src.bin", CopySource={"Bucket": a, "Key": "src.bin"},
                   Metadata={"k": "2"}, MetadataDirective="REPLACE", ContentType="application/x-test")
    copied = s3.head_object(Bucket=b, Key="copies/src.bin")
    assert copied["ETag"] == src["ETag"] and copied["Metadata"] == {"k": "1"}
    replaced = s3.head_object(Bucket=f"dev.{a}", Key="src.bin")
    assert replaced["Metadata"] == {"k": "2"} and replaced["ContentType"] == "application/x-test"
    v = tusk_gateway.versioning
    ids = {tusk_gateway.run(v.inspect_file(r, ref, p)).content.id
           for r, ref, p in ((a, "master", "/src.bin"), (b, "master", "/copies/src.bin"), (a, "dev", "/src.bin"))}
    assert len(ids) == 1  # one content: the copies share its chunks


def test_delete_objects_is_one_commit_and_versions_are_commits(tusk_gateway: GatewayThread) -> None:
    s3 = tusk_gateway.boto3()
    repo = unique()
    s3.create_bucket(Bucket=repo)
    v1 = s3.put_object(Bucket=repo, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=repo, Key="k", Body=b"two")["VersionId"]
    for i in range(3):
        s3.put_object(Bucket=repo, Key=f"many/{i}", Body=b"x")
    before = tusk_gateway.run(tusk_gateway.versioning.inspect_branch(repo, "master")).head
    res = s3.delete_objects(Bucket=repo, Delete={"Objects": [{"Key": f"many/{i}"} for i in range(3)] + [{"Key": "nope"}]})
    assert sorted(d["Key"] for d in res["Deleted"]) == ["many/0", "many/1", "many/2", "nope"]
    head = tusk_gateway.run(tusk_gateway.versioning.inspect_commit(repo, "master"))
    assert head.parent == before  # the three deletes are one commit
    assert s3.get_object(Bucket=repo, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket=repo, Key="k", VersionId="null")["Body"].read() == b"two"
    assert s3.get_object(Bucket=f"{v1}.master.{repo}", Key="k")["Body"].read() == b"one"
    versions = s3.list_object_versions(Bucket=repo, Prefix="k")
    assert [(x["VersionId"], x["IsLatest"]) for x in versions["Versions"]] == [(v2, True), (v1, False)]
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=f"{v1}.master.{repo}", Key="k", Body=b"no")
    assert _code(err) == "MethodNotAllowed"


def test_a_bucket_with_files_is_not_deleted(tusk_gateway: GatewayThread) -> None:
    s3 = tusk_gateway.boto3()
    repo = unique()
    s3.create_bucket(Bucket=repo)
    s3.upload_fileobj(io.BytesIO(b"x"), repo, "f")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket=repo)
    assert _code(err) == "BucketNotEmpty"
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=f"nope.{repo}")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
