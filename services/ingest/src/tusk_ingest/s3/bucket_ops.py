"""Operations on a bucket: create, delete, head, location, versioning, and the three listings."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import TypeVar

from aiohttp import web

from tusk_ingest.s3 import xml
from tusk_ingest.s3.driver import CommonPrefix, ObjectVersion
from tusk_ingest.s3.errors import InvalidArgument, InvalidBucketName, Unsupported
from tusk_ingest.s3.request import S3Request, xml_response

T = TypeVar("T")
_TOKEN_PREFIX = b"tusk1:"


async def create_bucket(req: S3Request) -> web.StreamResponse:
    bucket = req.bucket
    if bucket.read_only:
        raise InvalidBucketName("a COMMIT.BRANCH.REPO bucket is a snapshot; it cannot be created",
                                bucket=bucket.name)
    xml.parse_create_bucket(await req.document())  # any region is fine: Tusk has one
    await req.driver.create_bucket(bucket)
    return web.Response(status=200, headers={"Location": f"/{req.bucket_name}"})


async def delete_bucket(req: S3Request) -> web.StreamResponse:
    await req.driver.delete_bucket(req.writable_bucket())
    return web.Response(status=204)


async def head_bucket(req: S3Request) -> web.StreamResponse:
    await req.driver.head_bucket(req.bucket)
    return web.Response(status=200, headers={"x-amz-bucket-region": req.config.region})


async def get_location(req: S3Request) -> web.StreamResponse:
    await req.driver.head_bucket(req.bucket)
    return xml_response(xml.location_constraint(req.config.region))


async def get_versioning(req: S3Request) -> web.StreamResponse:
    await req.driver.head_bucket(req.bucket)
    return xml_response(xml.versioning_configuration("Enabled"))


async def put_versioning(req: S3Request) -> web.StreamResponse:
    """Versioning is always on (every write is a commit): Enabled is accepted, anything else is not."""
    status = xml.parse_versioning(await req.document())
    await req.driver.head_bucket(req.bucket)
    if (status or "").strip() != "Enabled":
        raise Unsupported("versioning cannot be suspended: every write to a branch is a commit")
    return web.Response(status=200)


async def list_objects(req: S3Request) -> web.StreamResponse:
    """ListObjects (v1) and ListObjectsV2 (`?list-type=2`)."""
    v2 = req.query.get("list-type") == "2"
    prefix = req.query.get("prefix", "")
    delimiter = req.query.get("delimiter") or None
    max_keys = req.int_param("max-keys", req.config.max_keys, low=0)
    max_keys = min(max_keys, req.config.max_keys)
    url = req.url_encoding()
    if v2:
        token = req.query.get("continuation-token")
        start_after = req.query.get("start-after") or ""
        after = _decode_token(token) if token is not None else start_after
    else:
        after = req.query.get("marker", "")
    items, truncated = await _page(
        req.driver.list_objects(req.bucket, prefix=prefix, delimiter=delimiter, start_after=after,
                                limit=max_keys + 1),
        max_keys,
    )
    last = items[-1] if items else None
    next_marker = (last.prefix if isinstance(last, CommonPrefix) else last.key) if last else None
    page = xml.ListingPage(req.bucket_name, prefix, delimiter, max_keys, url, items, truncated, next_marker)
    if not v2:
        return xml_response(xml.list_objects_v1(page, marker=after))
    return xml_response(xml.list_objects_v2(
        page,
        continuation_token=token,
        next_token=_encode_token(next_marker) if truncated and next_marker else None,
        start_after=start_after or None,
        fetch_owner=req.query.get("fetch-owner") == "true",
    ))


async def list_versions(req: S3Request) -> web.StreamResponse:
    prefix = req.query.get("prefix", "")
    delimiter = req.query.get("delimiter") or None
    max_keys = min(req.int_param("max-keys", req.config.max_keys, low=0), req.config.max_keys)
    key_marker = req.query.get("key-marker", "")
    version_marker = req.query.get("version-id-marker", "")
    if version_marker == "null":
        version_marker = ""
    items, truncated = await _page(
        req.driver.list_object_versions(req.bucket, prefix=prefix, delimiter=delimiter,
                                        key_marker=key_marker, version_id_marker=version_marker),
        max_keys,
    )
    next_key = next_version = None
    if items:
        last = items[-1]
        if isinstance(last, CommonPrefix):
            next_key = last.prefix
        elif isinstance(last, ObjectVersion):
            next_key, next_version = last.key, last.version_id
    page = xml.ListingPage(req.bucket_name, prefix, delimiter, max_keys, req.url_encoding(), items, truncated)
    return xml_response(xml.list_versions(
        page, key_marker=key_marker, version_id_marker=version_marker,
        next_key_marker=next_key, next_version_id_marker=next_version,
    ))


async def _page(it: AsyncIterator[T], limit: int) -> tuple[list[T], bool]:
    """Up to `limit` items and whether more exist; stops the driver's iterator early."""
    items: list[T] = []
    truncated = False
    try:
        async for item in it:
            if len(items) >= limit:
                truncated = limit > 0
                break
            items.append(item)
    finally:
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await aclose()
    return items, truncated


def _encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(_TOKEN_PREFIX + after.encode("utf-8")).decode("ascii")


def _decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        if not raw.startswith(_TOKEN_PREFIX):
            raise ValueError(token)
        return raw[len(_TOKEN_PREFIX):].decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        raise InvalidArgument("The continuation token provided is incorrect",
                              field="continuation-token") from None
