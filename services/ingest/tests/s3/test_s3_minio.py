"""minio-py against the gateway: put/get/list, multipart, stat, copy, multi-delete, presigned GET."""

from __future__ import annotations

import io
import os
import urllib.request
from pathlib import Path

import pytest
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from s3_server import ACCESS_KEY, SECRET_KEY, Served


@pytest.fixture
def mc(gateway: Served) -> Minio:
    return Minio(f"127.0.0.1:{gateway.port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)


def test_minio_put_get_list(mc: Minio) -> None:
    mc.make_bucket("images")
    assert mc.bucket_exists("images") and not mc.bucket_exists("other")
    mc.put_object("images", "dir/a b.txt", io.BytesIO(b"hello"), 5, content_type="text/plain",
                  metadata={"x-amz-meta-origin": "test"})
    mc.put_object("images", "dir/sub/c.txt", io.BytesIO(b"c"), 1)
    mc.put_object("images", "top.txt", io.BytesIO(b"t"), 1)
    response = mc.get_object("images", "dir/a b.txt")
    try:
        assert response.read() == b"hello"
    finally:
        response.close()
        response.release_conn()
    stat = mc.stat_object("images", "dir/a b.txt")
    assert stat.size == 5 and stat.content_type == "text/plain" and stat.metadata["x-amz-meta-origin"] == "test"
    assert [o.object_name for o in mc.list_objects("images", recursive=True)] == \
        ["dir/a b.txt", "dir/sub/c.txt", "top.txt"]
    shallow = sorted((o.object_name, o.is_dir) for o in mc.list_objects("images"))
    assert shallow == [("dir/", True), ("top.txt", False)]
    assert [o.object_name for o in mc.list_objects("images", prefix="dir/", start_after="dir/a b.txt",
                                                   recursive=True)] == ["dir/sub/c.txt"]
    assert [b.name for b in mc.list_buckets()] == ["images"]


def test_minio_multipart_copy_delete_and_presigned(mc: Minio, tmp_path: Path) -> None:
    mc.make_bucket("images")
    data = os.urandom(12 * 1024 * 1024)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    mc.fput_object("images", "big.bin", str(src), part_size=5 * 1024 * 1024)
    out = tmp_path / "out.bin"
    mc.fget_object("images", "big.bin", str(out))
    assert out.read_bytes() == data
    assert mc.stat_object("images", "big.bin").etag.endswith("-3")
    mc.copy_object("images", "copy.bin", CopySource("images", "big.bin"))
    assert mc.stat_object("images", "copy.bin").size == len(data)
    url = mc.presigned_get_object("images", "copy.bin")
    with urllib.request.urlopen(url) as r:
        assert r.read() == data
    errors = list(mc.remove_objects("images", [DeleteObject("big.bin"), DeleteObject("copy.bin")]))
    assert errors == []
    assert list(mc.list_objects("images")) == []
    with pytest.raises(S3Error) as e:
        mc.stat_object("images", "big.bin")
    assert e.value.code in ("NoSuchKey", "ResourceNotFound")
