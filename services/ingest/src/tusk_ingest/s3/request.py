"""`S3Request`: one authenticated request as the operation handlers see it, plus what they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from tusk_ingest.s3.auth import AuthResult
from tusk_ingest.s3.buckets import Address, Bucket
from tusk_ingest.s3.driver import STORED_HEADERS, Driver, ObjectMeta
from tusk_ingest.s3.errors import (
    InvalidArgument,
    KeyTooLongError,
    MetadataTooLarge,
    MethodNotAllowed,
    Unsupported,
)
from tusk_ingest.s3.payload import request_payload
from tusk_ingest.s3.xml import MAX_DOCUMENT

MAX_KEY_BYTES = 1024
MAX_USER_METADATA = 2048
# Request headers asking for features the gateway does not have; accepting them silently would lie.
UNSUPPORTED_HEADERS = (
    "x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
    "x-amz-website-redirect-location", "x-amz-tagging",
)


class StreamAborted(Exception):
    """A response failed after its headers were sent; the connection must be dropped, not answered."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Limits and names of one gateway (every limit in bytes unless named otherwise)."""

    region: str = "us-east-1"
    base_domain: str | None = None
    max_put_size: int = 5 * 1024**3  # one PutObject or UploadPart
    min_part_size: int = 5 * 1024**2  # every part of a multipart upload but the last
    max_parts: int = 10_000
    max_keys: int = 1000  # per listing page


@dataclass(frozen=True, slots=True)
class S3Request:
    """An authenticated S3 request: the HTTP request, what it addresses, and the gateway's parts."""

    http: web.Request
    driver: Driver
    config: GatewayConfig
    address: Address
    parsed_bucket: Bucket | None
    query: MultiDictProxy[str]
    auth: AuthResult
    request_id: str

    @property
    def headers(self) -> Mapping[str, str]:
        return self.http.headers

    @property
    def bucket(self) -> Bucket:
        assert self.parsed_bucket is not None
        return self.parsed_bucket

    @property
    def bucket_name(self) -> str:
        assert self.address.bucket_name is not None
        return self.address.bucket_name

    @property
    def key(self) -> str:
        assert self.address.key is not None
        if len(self.address.key.encode("utf-8")) > MAX_KEY_BYTES:
            raise KeyTooLongError()
        return self.address.key

    def writable_bucket(self) -> Bucket:
        bucket = self.bucket
        if bucket.read_only:
            raise MethodNotAllowed(f"bucket {bucket.name} is a commit: read-only", bucket=bucket.name)
        return bucket

    async def document(self) -> bytes:
        """A small request document (XML), with the body's integrity headers checked."""
        if not self.http.body_exists:
            return b""
        payload = request_payload(self.http, self.auth, max_size=MAX_DOCUMENT)
        return b"".join([piece async for piece in payload])

    def version_id(self) -> str | None:
        """`?versionId=`: a commit id; `null` (what tools send for unversioned objects) is current."""
        value = self.query.get("versionId")
        return None if value in (None, "", "null") else value

    def int_param(self, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InvalidArgument(f"{name} must be an integer", field=name) from None
        if value < low or (high is not None and value > high):
            raise InvalidArgument(f"{name} must be between {low} and {high}", field=name)
        return value

    def url_encoding(self) -> bool:
        kind = self.query.get("encoding-type")
        if kind not in (None, "", "url"):
            raise InvalidArgument("Invalid Encoding Method specified in Request", field="encoding-type")
        return kind == "url"


def parse_query(raw_query: str) -> MultiDictProxy[str]:
    """Query parameters decoded the way their signature was computed (`+` is a plus sign)."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return MultiDictProxy(MultiDict(pairs))


def reject_unsupported_headers(headers: Mapping[str, str]) -> None:
    for name in UNSUPPORTED_HEADERS:
        if name in headers:
            raise Unsupported(f"the header {name} is not supported by the Tusk S3 gateway", header=name)


def object_meta(headers: Mapping[str, str]) -> ObjectMeta:
    """Content-Type, `x-amz-meta-*` and the stored standard headers a writer sent."""
    user: dict[str, str] = {}
    for name, value in headers.items():
        lname = name.lower()
        if lname.startswith("x-amz-meta-"):
            user[lname[len("x-amz-meta-"):]] = value
    if sum(len(k) + len(v) for k, v in user.items()) > MAX_USER_METADATA:
        raise MetadataTooLarge(max_size=MAX_USER_METADATA)
    stored: dict[str, str] = {}
    for name in STORED_HEADERS:
        sent = headers.get(name)
        if sent is None:
            continue
        if name == "content-encoding":  # aws-chunked is how this request travelled, not the object
            sent = ",".join(e.strip() for e in sent.split(",") if e.strip().lower() != "aws-chunked")
            if not sent:
                continue
        stored[name] = sent
    return ObjectMeta(content_type=headers.get("Content-Type"), user=user, headers=stored)


def xml_response(body: bytes, *, status: int = 200, headers: Mapping[str, Any] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/xml", headers=headers)
