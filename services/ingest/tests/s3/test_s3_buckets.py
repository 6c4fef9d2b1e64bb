"""Bucket names and request addressing."""

from __future__ import annotations

import pytest

from tusk_ingest.s3 import errors
from tusk_ingest.s3.buckets import Addressing, Bucket, parse_bucket

COMMIT = "0123456789abcdef0123456789abcdef"


def test_bucket_forms() -> None:
    assert parse_bucket("images") == Bucket("images")
    assert parse_bucket("dev.images") == Bucket("images", "dev")
    snapshot = parse_bucket(f"{COMMIT}.master.images")
    assert snapshot == Bucket("images", "master", COMMIT) and snapshot.read_only
    assert not parse_bucket("dev.images").read_only
    for b in (Bucket("r"), Bucket("r", "b"), Bucket("r", "b", COMMIT)):
        assert parse_bucket(b.name) == b


@pytest.mark.parametrize("name", ["", "a.b.c.d", "bad name", "x..y", ".images", "images.", "nothex.b.r",
                                  "a" * 64, f"{COMMIT}x.b.r", "répo"])
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(errors.InvalidBucketName):
        parse_bucket(name)


def test_path_style_addressing() -> None:
    a = Addressing()
    assert a.resolve("127.0.0.1:7080", "/") .bucket_name is None
    addr = a.resolve("127.0.0.1:7080", "/dev.images/dir/a%20b.txt")
    assert (addr.bucket_name, addr.key, addr.virtual_host) == ("dev.images", "dir/a b.txt", False)
    assert a.resolve("h", "/images").key is None
    assert a.resolve("h", "/images/").key is None
    assert a.resolve("h", "/images/%E6%97%A5%2Bx").key == "日+x"
    assert a.resolve("h", "/images/a").resource == "/images/a"
    with pytest.raises(errors.InvalidArgument):
        a.resolve("h", "/images/%FF")


def test_virtual_host_addressing() -> None:
    a = Addressing("s3.tusk.test")
    addr = a.resolve("dev.images.s3.tusk.test:7080", "/dir/k.txt")
    assert (addr.bucket_name, addr.key, addr.virtual_host) == ("dev.images", "dir/k.txt", True)
    assert a.resolve("IMAGES.S3.TUSK.TEST", "/").key is None
    assert a.resolve("images.s3.tusk.test", "/").bucket_name == "images"
    assert a.resolve("s3.tusk.test:7080", "/images/k").bucket_name == "images"  # the bare domain: path-style
    assert a.resolve("127.0.0.1:7080", "/images/k").virtual_host is False
    assert a.vhost_bucket("[::1]:7080") is None
