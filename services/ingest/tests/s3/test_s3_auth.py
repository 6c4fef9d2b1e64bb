"""Signature verification: requests signed by botocore's own signers pass; tampered ones do not."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from multidict import CIMultiDict, CIMultiDictProxy

from tusk_ingest.s3 import errors, sigv4
from tusk_ingest.s3.auth import Authenticator, StaticCredentials

AK, SK = "AKIDTEST", "secret/with+special=chars"
KEYS = StaticCredentials({AK: SK})


@dataclass
class Wire:
    """A request as it reaches the server: method, raw path with query, headers."""

    method: str
    raw_path: str
    headers: CIMultiDictProxy[str]


def to_wire(request: AWSRequest) -> Wire:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = CIMultiDict((k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items())
    headers.setdefault("Host", parts.netloc)
    return Wire(prepared.method, parts.path + (f"?{parts.query}" if parts.query else ""), CIMultiDictProxy(headers))


def v4(method: str, url: str, *, body: bytes = b"", headers: dict[str, str] | None = None,
       secret: str = SK) -> Wire:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    S3SigV4Auth(BotoCredentials(AK, secret), "s3", "us-east-1").add_auth(request)
    return to_wire(request)


def tampered(wire: Wire, **changes: object) -> Wire:
    headers = CIMultiDict(wire.headers)
    for name, value in dict(changes.pop("headers", {})).items():  # type: ignore[call-overload]
        headers[name] = value
    return Wire(str(changes.get("method", wire.method)), str(changes.get("raw_path", wire.raw_path)),
                CIMultiDictProxy(headers))


async def test_v4_header_signature_from_botocore_is_accepted() -> None:
    wire = v4("GET", "http://127.0.0.1:7080/images/dir/a%20b%2Bc.txt?versionId=null&x-id=GetObject",
              headers={"Range": "bytes=0-9"})
    result = await Authenticator(KEYS).authenticate(wire)
    assert result.access_key == AK
    assert result.payload_hash == sigv4.EMPTY_SHA256


async def test_v4_unicode_key_and_list_query() -> None:
    url = "http://127.0.0.1:7080/images/donn%C3%A9es/%E6%97%A5%E6%9C%AC%20x.csv?list-type=2&prefix=a%2Fb&delimiter=%2F"
    assert (await Authenticator(KEYS).authenticate(v4("GET", url))).access_key == AK


@pytest.mark.parametrize("change", [
    {"raw_path": "/images/other.txt"},
    {"method": "DELETE"},
    {"headers": {"Range": "bytes=0-10"}},
    {"headers": {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}},
    {"raw_path": "/images/a.txt?versionId=123"},
])
async def test_v4_tampered_request_is_signature_does_not_match(change: dict[str, object]) -> None:
    wire = v4("GET", "http://127.0.0.1:7080/images/a.txt", headers={"Range": "bytes=0-9"})
    with pytest.raises(errors.SignatureDoesNotMatch):
        await Authenticator(KEYS).authenticate(tampered(wire, **change))


async def test_v4_wrong_secret_unknown_key_and_anonymous() -> None:
    with pytest.raises(errors.SignatureDoesNotMatch):
        await Authenticator(KEYS).authenticate(v4("GET", "http://h/b/k", secret="wrong"))
    with pytest.raises(errors.InvalidAccessKeyId):
        await Authenticator(StaticCredentials({"other": SK})).authenticate(v4("GET", "http://h/b/k"))
    anonymous = Wire("GET", "/b/k", CIMultiDictProxy(CIMultiDict(Host="h")))
    with pytest.raises(errors.AccessDenied):
        await Authenticator(KEYS).authenticate(anonymous)
    assert (await Authenticator(None).authenticate(anonymous)).access_key is None


async def test_v4_clock_skew_is_request_time_too_skewed() -> None:
    wire = v4("GET", "http://h/b/k")
    late = Authenticator(KEYS, clock=lambda: time.time() + 16 * 60)
    with pytest.raises(errors.RequestTimeTooSkewed):
        await late.authenticate(wire)
    assert (await Authenticator(KEYS, clock=lambda: time.time() + 14 * 60).authenticate(wire)).access_key == AK


async def test_v4_malformed_authorization_header() -> None:
    wire = v4("GET", "http://h/b/k")
    broken = tampered(wire, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDTEST/2013/x"})
    with pytest.raises(errors.AuthorizationHeaderMalformed):
        await Authenticator(KEYS).authenticate(broken)
    other_alg = tampered(wire, headers={"Authorization": "Bearer abc"})
    with pytest.raises(errors.InvalidArgument):
        await Authenticator(KEYS).authenticate(other_alg)


async def test_aws_documented_example_get_object_with_range() -> None:
    """The GET example of AWS's SigV4 header documentation, with its published signature."""
    headers = CIMultiDict({
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
        "x-amz-content-sha256": sigv4.EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                         "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    })
    keys = StaticCredentials({"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
    then = datetime(2013, 5, 24, tzinfo=UTC).timestamp()
    auth = Authenticator(keys, clock=lambda: then)
    assert (await auth.authenticate(Wire("GET", "/test.txt", CIMultiDictProxy(headers)))).access_key


async def test_aws_documented_example_presigned_url() -> None:
    query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3"
             "%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
             "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    headers = CIMultiDictProxy(CIMultiDict(Host="examplebucket.s3.amazonaws.com"))
    keys = StaticCredentials({"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
    then = datetime(2013, 5, 24, 1, tzinfo=UTC).timestamp()
    assert await Authenticator(keys, clock=lambda: then).authenticate(Wire("GET", "/test.txt?" + query, headers))
    with pytest.raises(errors.AccessDenied, match="expired"):
        await Authenticator(keys, clock=lambda: then + 86400).authenticate(Wire("GET", "/test.txt?" + query, headers))


def presigned_v4(url: str, expires: int = 60) -> Wire:
    request = AWSRequest(method="GET", url=url)
    S3SigV4QueryAuth(BotoCredentials(AK, SK), "s3", "us-east-1", expires=expires).add_auth(request)
    return to_wire(request)


async def test_v4_presigned_url_expiry_and_tampering() -> None:
    wire = presigned_v4("http://127.0.0.1:7080/images/some%20file.txt?versionId=abc")
    assert (await Authenticator(KEYS).authenticate(wire)).payload_hash == sigv4.UNSIGNED_PAYLOAD
    with pytest.raises(errors.AccessDenied, match="Request has expired"):
        await Authenticator(KEYS, clock=lambda: time.time() + 61).authenticate(wire)
    with pytest.raises(errors.AccessDenied, match="not valid yet"):
        await Authenticator(KEYS, clock=lambda: time.time() - 3600).authenticate(wire)
    with pytest.raises(errors.SignatureDoesNotMatch):
        await Authenticator(KEYS).authenticate(tampered(wire, raw_path=wire.raw_path.replace("abc", "abd")))
    longer = tampered(wire, raw_path=wire.raw_path.replace("X-Amz-Expires=60", "X-Amz-Expires=600"))
    with pytest.raises(errors.SignatureDoesNotMatch):
        await Authenticator(KEYS).authenticate(longer)


def v2(method: str, url: str, headers: dict[str, str] | None = None, secret: str = SK) -> Wire:
    request = AWSRequest(method=method, url=url, headers=headers or {})
    HmacV1Auth(BotoCredentials(AK, secret)).add_auth(request)
    return to_wire(request)


async def test_v2_header_signature() -> None:
    wire = v2("PUT", "http://h/images/dir/a%20b.txt?uploadId=xyz&partNumber=2",
              headers={"Content-Type": "text/plain", "x-amz-meta-a": "1", "Content-MD5": "AAAA"})
    assert (await Authenticator(KEYS).authenticate(wire)).access_key == AK
    with pytest.raises(errors.SignatureDoesNotMatch):
        await Authenticator(KEYS).authenticate(tampered(wire, headers={"x-amz-meta-a": "2"}))
    with pytest.raises(errors.SignatureDoesNotMatch):
        await Authenticator(KEYS).authenticate(v2("GET", "http://h/images/k", secret="bad"))
    with pytest.raises(errors.RequestTimeTooSkewed):
        await Authenticator(KEYS, clock=lambda: time.time() - 3600).authenticate(wire)


async def test_v2_virtual_host_bucket_is_part_of_the_resource() -> None:
    request = AWSRequest(method="GET", url="http://images.s3.tusk.test/k.txt")
    request.auth_path = "/images/k.txt"
    HmacV1Auth(BotoCredentials(AK, SK)).add_auth(request)
    wire = to_wire(request)
    assert await Authenticator(KEYS).authenticate(wire, vhost_bucket="images")
    with pytest.raises(errors.SignatureDoesNotMatch):
        await Authenticator(KEYS).authenticate(wire, vhost_bucket="other")


async def test_v2_query_signature_and_expiry() -> None:
    request = AWSRequest(method="GET", url="http://h/images/k.txt")
    HmacV1QueryAuth(BotoCredentials(AK, SK), expires=60).add_auth(request)
    wire = to_wire(request)
    assert (await Authenticator(KEYS).authenticate(wire)).access_key == AK
    with pytest.raises(errors.AccessDenied, match="Request has expired"):
        await Authenticator(KEYS, clock=lambda: time.time() + 120).authenticate(wire)
    with pytest.raises(errors.SignatureDoesNotMatch):
        await Authenticator(KEYS).authenticate(tampered(wire, raw_path=wire.raw_path.replace("k.txt", "j.txt")))


def test_uri_encoding_follows_aws_rules() -> None:
    assert sigv4.uri_encode("a b/c~d_e-f.g", keep_slash=True) == "a%20b/c~d_e-f.g"
    assert sigv4.uri_encode("a/b+c=d&é", keep_slash=False) == "a%2Fb%2Bc%3Dd%26%C3%A9"
    assert sigv4.canonical_uri("/b/a%20b%2Bc") == "/b/a%20b%2Bc"
    assert sigv4.canonical_query([("b", "2"), ("a", "x y"), ("a", "1"), ("uploads", "")]) == \
        "a=1&a=x%20y&b=2&uploads="
