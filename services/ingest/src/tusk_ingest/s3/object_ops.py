"""Operations on objects: GET, HEAD, PUT, COPY, DELETE and DeleteObjects."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from tusk_common.errors import NotFound
from tusk_ingest.s3 import checksums as ck
from tusk_ingest.s3 import conditions, xml
from tusk_ingest.s3.buckets import Bucket, parse_bucket
from tusk_ingest.s3.driver import ObjectInfo
from tusk_ingest.s3.errors import (
    EntityTooLarge,
    InvalidArgument,
    InvalidRequest,
    Unsupported,
    to_s3,
)
from tusk_ingest.s3.payload import request_payload
from tusk_ingest.s3.request import (
    S3Request,
    StreamAborted,
    object_meta,
    reject_unsupported_headers,
    xml_response,
)

DEFAULT_CONTENT_TYPE = "binary/octet-stream"
BUFFERED_BODY = 256 * 1024  # GET bodies up to this size are read whole, then sent with the headers
_RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def object_headers(info: ObjectInfo, *, with_checksums: bool) -> dict[str, str]:
    """The headers GET and HEAD describe an object with."""
    headers = {
        "ETag": xml.quoted(info.etag),
        "Last-Modified": conditions.http_date(info.last_modified),
        "Accept-Ranges": "bytes",
        "Content-Type": info.meta.content_type or DEFAULT_CONTENT_TYPE,
    }
    for name, value in info.meta.headers.items():
        headers[name.title()] = value
    for name, value in info.meta.user.items():
        headers["x-amz-meta-" + name] = value
    if info.version_id:
        headers["x-amz-version-id"] = info.version_id
    if info.part_sizes:
        headers["x-amz-mp-parts-count"] = str(len(info.part_sizes))
    if with_checksums:
        for alg, value in info.checksums.items():
            headers[ck.header_name(alg)] = value
        if info.checksums:
            headers["x-amz-checksum-type"] = info.checksum_type or "FULL_OBJECT"
    return headers


async def get_object(req: S3Request) -> web.StreamResponse:
    return await _read(req, body=True)


async def head_object(req: S3Request) -> web.StreamResponse:
    return await _read(req, body=False)


async def _read(req: S3Request, *, body: bool) -> web.StreamResponse:
    bucket, key, version = req.bucket, req.key, req.version_id()
    stream = None
    if body:
        stream = await req.driver.get_object(bucket, key, version_id=version)
        info = stream.info
    else:
        info = await req.driver.head_object(bucket, key, version_id=version)
    if conditions.not_modified(req.headers, info):
        return web.Response(status=304, headers={"ETag": xml.quoted(info.etag),
                                                 "Last-Modified": conditions.http_date(info.last_modified)})
    if "partNumber" in req.query:
        number = req.int_param("partNumber", 1, low=1, high=req.config.max_parts)
        byte_range: conditions.ByteRange | None = conditions.part_range(info, number)
        partial = info.part_sizes is not None  # part 1 of a plain object is the whole object
    else:
        byte_range = conditions.parse_range(req.headers.get("Range"), info.size)
        partial = byte_range is not None
    checksum_mode = req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    # Checksums describe the whole object; S3 leaves them out of partial reads.
    headers = object_headers(info, with_checksums=checksum_mode and not partial)
    for param, header in _RESPONSE_OVERRIDES.items():
        if param in req.query:
            headers[header] = req.query[param]
    start, stop = (0, info.size) if byte_range is None else (byte_range.start, byte_range.stop)
    status = 206 if partial else 200
    if partial and byte_range is not None:
        headers["Content-Range"] = byte_range.content_range()
    headers["Content-Length"] = str(stop - start)
    if not body:
        return web.Response(status=status, headers=headers)
    assert stream is not None
    if stop - start <= BUFFERED_BODY:
        # Read before answering: headers and body leave in one send, and a failed read is still an
        # S3 error, not a cut connection.
        data = b"".join([piece async for piece in stream.read(start, stop)])
        return web.Response(status=status, headers=headers, body=data)
    headers["x-amz-request-id"] = req.request_id
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = stop - start
    await response.prepare(req.http)
    try:
        async for piece in stream.read(start, stop):
            await response.write(piece)
        await response.write_eof()
    except Exception as e:  # the status line is out: the only honest signal left is a cut connection
        raise StreamAborted(f"GET {req.address.resource} failed after the headers were sent") from e
    return response


async def put_object(req: S3Request) -> web.StreamResponse:
    bucket, key = req.writable_bucket(), req.key
    reject_unsupported_headers(req.headers)
    if (req.http.content_length or 0) > req.config.max_put_size:
        raise EntityTooLarge(max_size=req.config.max_put_size)
    if_none_match = req.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise Unsupported("If-None-Match on PUT only supports '*'", header="If-None-Match")
    if_match = req.headers.get("If-Match")
    meta = object_meta(req.headers)
    payload = request_payload(req.http, req.auth, max_size=req.config.max_put_size)
    result = await req.driver.put_object(
        bucket, key, payload, meta,
        if_none_match=if_none_match is not None, if_match=if_match.strip().strip('"') if if_match else None,
    )
    headers = {"ETag": xml.quoted(result.etag)}
    if result.version_id:
        headers["x-amz-version-id"] = result.version_id
    for alg, value in payload.checksums.items():
        headers[ck.header_name(alg)] = value
        headers["x-amz-checksum-type"] = "FULL_OBJECT"
    return web.Response(status=200, headers=headers)


def parse_copy_source(value: str) -> tuple[Bucket, str, str | None]:
    """`x-amz-copy-source: [/]bucket/key[?versionId=ID]`, URL-encoded."""
    path, _, query = value.strip().partition("?")
    version = None
    for part in query.split("&"):
        name, _, v = part.partition("=")
        if name == "versionId":
            version = None if unquote(v) in ("", "null") else unquote(v)
    bucket_name, sep, key = unquote(path).lstrip("/").partition("/")
    if not sep or not key:
        raise InvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                              field="x-amz-copy-source")
    return parse_bucket(bucket_name), key, version


async def copy_object(req: S3Request) -> web.StreamResponse:
    bucket, key = req.writable_bucket(), req.key
    reject_unsupported_headers(req.headers)
    src, src_key, src_version = parse_copy_source(req.headers["x-amz-copy-source"])
    source = await req.driver.head_object(src, src_key, version_id=src_version)
    conditions.not_modified(req.headers, source, prefix="x-amz-copy-source-")
    directive = req.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise InvalidArgument("Unknown metadata directive.", field="x-amz-metadata-directive")
    if directive == "COPY" and src == bucket and src_key == key and src_version is None:
        raise InvalidRequest("This copy request is illegal because it is trying to copy an object to itself "
                             "without changing the object's metadata, storage class, website redirect "
                             "location or encryption attributes.")
    meta = object_meta(req.headers) if directive == "REPLACE" else None
    result = await req.driver.copy_object(src, src_key, bucket, key, src_version_id=src_version, meta=meta)
    headers = {}
    if result.version_id:
        headers["x-amz-version-id"] = result.version_id
    if source.version_id:
        headers["x-amz-copy-source-version-id"] = source.version_id
    checksums = {} if source.checksum_type == "COMPOSITE" else source.checksums
    return xml_response(xml.copy_result(result.etag, result.last_modified, checksums, part=False),
                        headers=headers)


async def delete_object(req: S3Request) -> web.StreamResponse:
    bucket, key = req.writable_bucket(), req.key
    await _only_current(req, bucket, key, req.version_id())
    result = await req.driver.delete_object(bucket, key)
    headers = {}
    if result.version_id:
        headers = {"x-amz-delete-marker": "true", "x-amz-version-id": result.version_id}
    return web.Response(status=204, headers=headers)


async def _only_current(req: S3Request, bucket: Bucket, key: str, version: str | None) -> None:
    """Past versions are commits and cannot be deleted; naming the current version is fine.

    A version id is a commit the object can be read at, so the object a client wrote at commit C is
    still "version C" after later commits that left it alone: any version holding the same object
    as the head (same ETag, size and metadata) names the current version.
    """
    if version is None:
        return
    try:
        current: ObjectInfo | None = await req.driver.head_object(bucket, key)
    except NotFound:
        current = None
    if current is not None and current.version_id != version:
        try:
            named = await req.driver.head_object(bucket, key, version_id=version)
        except NotFound:
            named = None
        if named is not None and _same_object(named, current):
            return
    if current is None or current.version_id != version:
        raise Unsupported("a past version is a commit and cannot be deleted; delete the key instead",
                          version_id=version)


def _same_object(a: ObjectInfo, b: ObjectInfo) -> bool:
    return (a.etag, a.size, a.meta, dict(a.checksums)) == (b.etag, b.size, b.meta, dict(b.checksums))


async def delete_objects(req: S3Request) -> web.StreamResponse:
    """POST ?delete: many keys, one atomic write; per-key errors go in the document."""
    bucket = req.writable_bucket()
    quiet, objects = xml.parse_delete(await req.document())
    keys: list[str] = []
    failed: list[tuple[str, str, str]] = []
    for key, version in objects:
        try:
            await _only_current(req, bucket, key, None if version in (None, "", "null") else version)
        except Exception as e:
            info = to_s3(e, names_key=True)
            failed.append((key, info.code, info.message))
            continue
        keys.append(key)
    deleted = await req.driver.delete_objects(bucket, keys) if keys else []
    return xml_response(xml.delete_result(deleted, failed, quiet=quiet))
