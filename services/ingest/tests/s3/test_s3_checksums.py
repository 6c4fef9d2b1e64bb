"""Checksums against published check values, and the multipart forms S3 computes."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest

from tusk_ingest.s3 import checksums as ck
from tusk_ingest.s3 import errors

CHECK = b"123456789"  # the standard CRC check input


def b64int(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode()


def test_crc_check_values() -> None:
    assert ck.compute("crc32", CHECK) == b64int(0xCBF43926, 4)
    pytest.importorskip("awscrt")
    assert ck.compute("crc32c", CHECK) == b64int(0xE3069283, 4)
    assert ck.compute("crc64nvme", CHECK) == b64int(0xAE8B14860A799888, 8)


def test_sha_values_and_streaming_equals_one_shot() -> None:
    assert ck.compute("sha1", b"abc") == base64.b64encode(hashlib.sha1(b"abc").digest()).decode()
    assert ck.compute("sha256", b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    c = ck.new("crc32")
    for piece in (b"12", b"345", b"", b"6789"):
        c.update(piece)
    assert ck.b64(c.digest()) == ck.compute("crc32", CHECK)


def test_header_values_are_validated() -> None:
    good = ck.compute("crc32", b"x")
    assert ck.from_headers({"x-amz-checksum-crc32": good, "x-amz-checksum-mode": "ENABLED"}) == {"crc32": good}
    with pytest.raises(errors.InvalidRequest):
        ck.from_headers({"x-amz-checksum-crc32": "not base64!"})
    with pytest.raises(errors.InvalidRequest):
        ck.from_headers({"x-amz-checksum-sha256": good})  # 4 bytes where 32 are due
    with pytest.raises(errors.InvalidRequest):
        ck.from_headers({"x-amz-checksum-md4": good})
    with pytest.raises(errors.InvalidRequest):
        ck.from_headers({"x-amz-checksum-crc32": good, "x-amz-checksum-sha1": ck.compute("sha1", b"x")})
    with pytest.raises(errors.InvalidRequest):
        ck.parse_algorithm("md5")
    assert ck.parse_algorithm("CRC64NVME") == "crc64nvme"


def test_content_md5() -> None:
    digest = hashlib.md5(b"x").digest()
    assert ck.content_md5(base64.b64encode(digest).decode()) == digest
    assert ck.content_md5(None) is None
    for bad in ("zz", base64.b64encode(b"short").decode()):
        with pytest.raises(errors.InvalidDigest):
            ck.content_md5(bad)


def test_multipart_etag_is_md5_of_part_md5s() -> None:
    parts = [b"a" * 10, b"b" * 3]
    tags = [hashlib.md5(p).hexdigest() for p in parts]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-2"
    assert ck.multipart_etag(tags) == expected
    assert ck.multipart_etag([f'"{t}"' for t in tags]) == expected


def test_composite_checksum_is_checksum_of_part_checksums() -> None:
    parts = [b"hello ", b"world"]
    values = [ck.compute("sha256", p) for p in parts]
    joined = b"".join(hashlib.sha256(p).digest() for p in parts)
    assert ck.composite("sha256", values) == base64.b64encode(hashlib.sha256(joined).digest()).decode() + "-2"


@pytest.mark.parametrize("algorithm", ["crc32", "crc32c", "crc64nvme"])
def test_full_object_checksum_combines_part_crcs(algorithm: str) -> None:
    pytest.importorskip("awscrt")
    parts = [b"first part " * 100, b"second", b"third" * 7]
    combined = ck.full_object(algorithm, [(ck.compute(algorithm, p), len(p)) for p in parts])
    assert combined == ck.compute(algorithm, b"".join(parts))
    with pytest.raises(errors.InvalidRequest):
        ck.full_object("sha256", [])


def test_checksum_types() -> None:
    assert ck.parse_type(None, "crc32") == "COMPOSITE"
    assert ck.parse_type(None, "crc64nvme") == "FULL_OBJECT"
    assert ck.parse_type("full_object", "crc32c") == "FULL_OBJECT"
    assert ck.parse_type(None, None) is None
    for kind, alg in (("FULL_OBJECT", "sha1"), ("COMPOSITE", "crc64nvme"), ("OTHER", "crc32"), ("COMPOSITE", None)):
        with pytest.raises(errors.InvalidRequest):
            ck.parse_type(kind, alg)
    assert zlib.crc32(CHECK) == 0xCBF43926
