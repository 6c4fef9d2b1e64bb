"""Raw signed HTTP against the gateway, for what SDKs hide: wire encodings, error documents, bad bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from s3_server import ACCESS_KEY, BASE_DOMAIN, SECRET_KEY, Served, serve

from tusk_common.errors import Unavailable
from tusk_ingest.s3 import MemoryDriver

EMPTY = hashlib.sha256(b"").hexdigest()


class _FixedPayloadSigner(S3SigV4Auth):
    """botocore's S3 SigV4 signer, told which x-amz-content-sha256 to sign."""

    def __init__(self, payload_hash: str) -> None:
        super().__init__(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1")
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


class Raw:
    """Signs requests with botocore and sends them with urllib3, byte for byte as given."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.pool = urllib3.HTTPConnectionPool("127.0.0.1", served.port, retries=False)

    def signed(self, method: str, path: str, *, host: str | None = None, headers: dict[str, str] | None = None,
               payload_hash: str | None = None, body: bytes = b"") -> dict[str, str]:
        host = host or f"127.0.0.1:{self.served.port}"
        request = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers=headers or {})
        signer = (_FixedPayloadSigner(payload_hash) if payload_hash
                  else S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1"))
        signer.add_auth(request)
        out = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        out["Host"] = host
        return out

    def send(self, method: str, path: str, *, body: object = b"", headers: dict[str, str] | None = None,
             host: str | None = None, payload_hash: str | None = None, chunked: bool = False,
             sign_body: bytes | None = None) -> urllib3.BaseHTTPResponse:
        signed = self.signed(method, path, host=host, headers=headers, payload_hash=payload_hash,
                             body=sign_body if sign_body is not None else body if isinstance(body, bytes) else b"")
        return self.pool.urlopen(method, path, body=body, headers=signed, chunked=chunked,
                                 assert_same_host=False, preload_content=True)


@pytest.fixture
def raw(gateway: Served) -> Raw:
    r = Raw(gateway)
    assert r.send("PUT", "/images").status == 200
    return r


def error_of(response: urllib3.BaseHTTPResponse) -> ET.Element:
    root = ET.fromstring(response.data)
    assert root.tag == "Error"
    return root


def test_error_document_carries_code_resource_and_request_id(raw: Raw) -> None:
    r = raw.send("GET", "/images/missing%20file.txt")
    assert r.status == 404 and r.headers["Content-Type"] == "application/xml"
    root = error_of(r)
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("Resource") == "/images/missing file.txt"
    assert root.findtext("RequestId") == r.headers["x-amz-request-id"]
    head = raw.send("HEAD", "/images/missing")
    assert head.status == 404 and head.data == b""
    assert error_of(raw.send("GET", "/nobucket")).findtext("BucketName") == "nobucket"


def test_malformed_xml_bodies_are_malformed_xml(raw: Raw) -> None:
    r = raw.send("POST", "/images?delete", body=b"<Delete><Object>")
    assert r.status == 400 and error_of(r).findtext("Code") == "MalformedXML"
    upload = ET.fromstring(raw.send("POST", "/images/k?uploads").data)
    upload_id = upload.findtext("{http://s3.amazonaws.com/doc/2006-03-01/}UploadId")
    r = raw.send("POST", f"/images/k?uploadId={upload_id}", body=b"garbage")
    assert r.status == 400 and error_of(r).findtext("Code") == "MalformedXML"


def test_virtual_host_style_requests(raw: Raw) -> None:
    host = f"images.{BASE_DOMAIN}:{raw.served.port}"
    assert raw.send("PUT", "/dir/v.txt", host=host, body=b"vhost").status == 200
    assert raw.send("GET", "/images/dir/v.txt").data == b"vhost"
    listing = raw.send("GET", "/?list-type=2&prefix=dir%2F", host=host)
    assert b"<Key>dir/v.txt</Key>" in listing.data
    assert raw.send("PUT", "/", host=f"dev.images.{BASE_DOMAIN}:{raw.served.port}").status == 200
    assert raw.send("HEAD", "/dev.images").status == 200


def test_content_md5_and_payload_hash_are_checked(raw: Raw) -> None:
    body = b"payload"
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = raw.send("PUT", "/images/a", body=body, headers={"Content-MD5": wrong_md5})
    assert r.status == 400 and error_of(r).findtext("Code") == "BadDigest"
    r = raw.send("PUT", "/images/a", body=body, headers={"Content-MD5": "nope"})
    assert r.status == 400 and error_of(r).findtext("Code") == "InvalidDigest"
    r = raw.send("PUT", "/images/a", body=body, payload_hash=hashlib.sha256(b"other").hexdigest())
    assert r.status == 400 and error_of(r).findtext("Code") == "XAmzContentSHA256Mismatch"
    assert raw.send("GET", "/images/a").status == 404  # none of them stored anything
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert raw.send("PUT", "/images/a", body=body, headers={"Content-MD5": good}).status == 200
    assert raw.send("PUT", "/images/u", body=body, payload_hash="UNSIGNED-PAYLOAD").status == 200


def test_unsatisfiable_range_names_the_size(raw: Raw) -> None:
    raw.send("PUT", "/images/r", body=b"0123456789")
    r = raw.send("GET", "/images/r", headers={"Range": "bytes=20-30"})
    assert r.status == 416 and r.headers["Content-Range"] == "bytes */10"
    assert error_of(r).findtext("Code") == "InvalidRange"
    assert raw.send("GET", "/images/r", headers={"Range": "bytes=3-1"}).status == 200  # invalid: ignored
    assert raw.send("GET", "/images/r", headers={"Range": "bytes=8-"}).data == b"89"


def test_directory_markers_store_nothing(raw: Raw) -> None:
    assert raw.send("PUT", "/images/dir/", body=b"").status == 200
    assert b"<KeyCount>0</KeyCount>" in raw.send("GET", "/images?list-type=2").data


def chunk_signer(headers: dict[str, str]) -> tuple[bytes, str, str, str]:
    """(signing key, date, scope, seed signature) of a signed request, derived independently."""
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key = ("AWS4" + SECRET_KEY).encode()
    for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    return key, amz_date, scope, seed


def signed_chunks(headers: dict[str, str], data: bytes, size: int, *, tamper: int | None = None) -> bytes:
    key, amz_date, scope, previous = chunk_signer(headers)
    out = []
    chunks = [data[i:i + size] for i in range(0, len(data), size)] + [b""]
    for n, chunk in enumerate(chunks):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY,
                         hashlib.sha256(chunk).hexdigest()])
        previous = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        sig = ("0" * 64) if n == tamper else previous
        out.append(f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n")
    return b"".join(out)


def test_signed_streaming_upload(raw: Raw) -> None:
    data = bytes(range(256)) * 1000
    meta = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    headers = raw.signed("PUT", "/images/s.bin", headers=meta, payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    body = signed_chunks(headers, data, 65536)
    r = raw.pool.urlopen("PUT", "/images/s.bin", body=body, headers=headers, assert_same_host=False)
    assert r.status == 200, r.data
    got = raw.send("GET", "/images/s.bin")
    assert got.data == data and "Content-Encoding" not in got.headers
    headers = raw.signed("PUT", "/images/s.bin", headers=meta, payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    bad = signed_chunks(headers, b"evil" * len(data[:4000]) + data[16000:], 65536, tamper=2)
    r = raw.pool.urlopen("PUT", "/images/s.bin", body=bad, headers=headers, assert_same_host=False)
    assert r.status == 403 and error_of(r).findtext("Code") == "SignatureDoesNotMatch"
    assert raw.send("GET", "/images/s.bin").data == data  # the forged upload stored nothing


def _unsigned_trailer_body(data: bytes, crc: str) -> Iterator[bytes]:
    for at in range(0, len(data), 10_000):
        piece = data[at:at + 10_000]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield f"0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n".encode()


@pytest.mark.parametrize("correct", [True, False])
def test_unsigned_trailer_over_http_chunked_transfer_as_pyarrow_sends_it(raw: Raw, correct: bool) -> None:
    data = b"parquet bytes " * 5000
    crc = base64.b64encode(zlib.crc32(data if correct else b"x").to_bytes(4, "big")).decode()
    headers = raw.signed("PUT", "/images/p.parquet", payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers={
        "Content-Encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": str(len(data)), "Content-Type": "application/octet-stream"})
    r = raw.pool.urlopen("PUT", "/images/p.parquet", body=_unsigned_trailer_body(data, crc), headers=headers,
                         chunked=True, assert_same_host=False)
    if correct:
        assert r.status == 200 and r.headers["x-amz-checksum-crc32"] == crc
        assert raw.send("GET", "/images/p.parquet").data == data
    else:
        assert r.status == 400 and error_of(r).findtext("Code") == "BadDigest"
        assert raw.send("GET", "/images/p.parquet").status == 404


class _BreaksMidStream(MemoryDriver):
    """Reads fail after the first piece, as a chunk store outage during a download would."""

    async def get_object(self, bucket, key, *, version_id=None):  # type: ignore[no-untyped-def,override]
        stream = await super().get_object(bucket, key, version_id=version_id)

        async def read(start: int, stop: int) -> AsyncIterator[bytes]:
            async for piece in stream.read(start, stop):
                yield piece
                raise Unavailable("chunk store unreachable")

        return replace(stream, read=read)


def test_a_read_failing_after_the_headers_cuts_the_connection() -> None:
    server = serve(_BreaksMidStream())
    port = server.start()
    try:
        raw = Raw(Served("127.0.0.1", port, MemoryDriver()))
        raw.send("PUT", "/images")
        raw.send("PUT", "/images/big", body=b"x" * (1024 * 1024))
        with pytest.raises(urllib3.exceptions.ProtocolError):
            raw.send("GET", "/images/big")
    finally:
        server.stop()


def test_a_small_read_is_sent_whole_so_a_failing_one_is_still_an_s3_error() -> None:
    server = serve(_BreaksMidStream())
    port = server.start()
    try:
        raw = Raw(Served("127.0.0.1", port, MemoryDriver()))
        raw.send("PUT", "/images")
        raw.send("PUT", "/images/big", body=b"x" * (1024 * 1024))
        for path, headers in (("/images/big", {"Range": "bytes=0-99"}), ("/images/small", {})):
            if path == "/images/small":
                raw.send("PUT", path, body=b"y" * 1000)
            r = raw.send("GET", path, headers=headers)
            assert r.status == 503 and error_of(r).findtext("Code") == "ServiceUnavailable"
    finally:
        server.stop()


def test_small_objects_and_ranges_come_back_whole_with_their_headers(raw: Raw) -> None:
    data = bytes(range(256)) * 1000
    raw.send("PUT", "/images/s", body=data, headers={"Content-Type": "text/x-test", "x-amz-meta-a": "1"})
    r = raw.send("GET", "/images/s")
    assert (r.status, r.data, r.headers["Content-Length"]) == (200, data, str(len(data)))
    assert (r.headers["Content-Type"], r.headers["x-amz-meta-a"]) == ("text/x-test", "1")
    assert r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"' and r.headers["x-amz-request-id"]
    r = raw.send("GET", "/images/s", headers={"Range": "bytes=10-19"})
    assert (r.status, r.data, r.headers["Content-Range"]) == (206, data[10:20], f"bytes 10-19/{len(data)}")


def test_part_upload_without_upload_id_is_invalid_argument(raw: Raw) -> None:
    r = raw.send("PUT", "/images/k?partNumber=1", body=b"x")
    assert r.status == 400 and error_of(r).findtext("Code") == "InvalidArgument"
    r = raw.send("PUT", "/images/k?partNumber=0&uploadId=u", body=b"x")
    assert r.status == 400 and error_of(r).findtext("Code") == "InvalidArgument"
    r = raw.send("GET", "/images?acl")
    assert r.status == 501 and error_of(r).findtext("Code") == "NotImplemented"
