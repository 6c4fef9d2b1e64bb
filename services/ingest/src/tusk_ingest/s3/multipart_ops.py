"""Multipart uploads: create, upload part (streamed, or copied), complete, abort, list parts/uploads.

The S3 rules of completion live here, not in drivers: parts named in ascending order, each uploaded
with the ETag given, all but the last at least `min_part_size`; the ETag `md5(part md5s)-N` and the
COMPOSITE (`-N`) or FULL_OBJECT checksum are computed from the stored parts.
"""

from __future__ import annotations

from aiohttp import web

from tusk_ingest.s3 import checksums as ck
from tusk_ingest.s3 import conditions, xml
from tusk_ingest.s3.driver import PartInfo, UploadInfo
from tusk_ingest.s3.errors import (
    BadDigest,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    Unsupported,
)
from tusk_ingest.s3.object_ops import parse_copy_source
from tusk_ingest.s3.payload import request_payload
from tusk_ingest.s3.request import S3Request, object_meta, reject_unsupported_headers, xml_response


async def create_upload(req: S3Request) -> web.StreamResponse:
    bucket, key = req.writable_bucket(), req.key
    reject_unsupported_headers(req.headers)
    raw_alg = req.headers.get("x-amz-checksum-algorithm")
    algorithm = ck.parse_algorithm(raw_alg) if raw_alg else None
    kind = ck.parse_type(req.headers.get("x-amz-checksum-type"), algorithm)
    upload = await req.driver.create_multipart_upload(
        bucket, key, object_meta(req.headers), checksum_algorithm=algorithm, checksum_type=kind
    )
    headers = {}
    if algorithm:
        headers = {"x-amz-checksum-algorithm": algorithm.upper(), "x-amz-checksum-type": kind or ""}
    return xml_response(xml.initiate_multipart(req.bucket_name, key, upload.upload_id), headers=headers)


def _upload_id(req: S3Request) -> str:
    upload_id = req.query.get("uploadId")
    if not upload_id:
        raise InvalidArgument("This operation needs an uploadId", field="uploadId")
    return upload_id


def _part_number(req: S3Request) -> int:
    return req.int_param("partNumber", 0, low=1, high=req.config.max_parts)


async def upload_part(req: S3Request) -> web.StreamResponse:
    bucket, key = req.writable_bucket(), req.key
    number = _part_number(req)
    upload = await req.driver.inspect_upload(bucket, key, _upload_id(req))
    algorithms = [upload.checksum_algorithm] if upload.checksum_algorithm else []
    payload = request_payload(req.http, req.auth, max_size=req.config.max_put_size, algorithms=algorithms)
    part = await req.driver.upload_part(bucket, key, upload.upload_id, number, payload)
    headers = {"ETag": xml.quoted(part.etag)}
    for alg, value in part.checksums.items():
        headers[ck.header_name(alg)] = value
    return web.Response(status=200, headers=headers)


async def upload_part_copy(req: S3Request) -> web.StreamResponse:
    bucket, key = req.writable_bucket(), req.key
    number = _part_number(req)
    upload = await req.driver.inspect_upload(bucket, key, _upload_id(req))
    src, src_key, src_version = parse_copy_source(req.headers["x-amz-copy-source"])
    source = await req.driver.head_object(src, src_key, version_id=src_version)
    conditions.not_modified(req.headers, source, prefix="x-amz-copy-source-")
    span = conditions.parse_copy_range(req.headers.get("x-amz-copy-source-range"), source.size)
    if span.length > req.config.max_put_size:
        raise InvalidArgument("a copied part is larger than the maximum part size", field="x-amz-copy-source-range")
    part = await req.driver.upload_part_copy(
        bucket, key, upload.upload_id, number, src=src, src_key=src_key, src_version_id=src_version,
        start=span.start, stop=span.stop,
    )
    headers = {"x-amz-copy-source-version-id": source.version_id} if source.version_id else {}
    return xml_response(xml.copy_result(part.etag, part.last_modified, part.checksums, part=True),
                        headers=headers)


async def complete_upload(req: S3Request) -> web.StreamResponse:
    bucket, key = req.writable_bucket(), req.key
    upload = await req.driver.inspect_upload(bucket, key, _upload_id(req))
    wanted = xml.parse_complete(await req.document())
    stored = {p.part_number: p async for p in req.driver.list_parts(bucket, key, upload.upload_id)}
    parts = _validate(wanted, stored, min_size=req.config.min_part_size)
    checksums = _object_checksums(req, upload, parts)
    if_none_match = req.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise Unsupported("If-None-Match on CompleteMultipartUpload only supports '*'")
    if_match = req.headers.get("If-Match")
    result = await req.driver.complete_multipart_upload(
        bucket, key, upload.upload_id, [p.part_number for p in parts],
        etag=ck.multipart_etag([p.etag for p in parts]), checksums=checksums,
        checksum_type=upload.checksum_type if checksums else None,
        if_none_match=if_none_match is not None, if_match=if_match.strip().strip('"') if if_match else None,
    )
    headers = {"x-amz-version-id": result.version_id} if result.version_id else {}
    location = f"{req.http.scheme}://{req.http.host}/{req.bucket_name}/{key}"
    return xml_response(
        xml.complete_multipart(location, req.bucket_name, key, result.etag, checksums, upload.checksum_type),
        headers=headers,
    )


def _validate(wanted: list[xml.CompletedPart], stored: dict[int, PartInfo], *, min_size: int) -> list[PartInfo]:
    parts: list[PartInfo] = []
    previous = 0
    for want in wanted:
        if want.part_number <= previous:
            raise InvalidPartOrder()
        previous = want.part_number
        have = stored.get(want.part_number)
        if have is None or have.etag.strip('"') != want.etag:
            raise InvalidPart(part_number=want.part_number)
        for alg, value in want.checksums.items():
            if have.checksums.get(alg, value) != value:
                raise InvalidPart(f"the {alg.upper()} checksum of part {want.part_number} does not match",
                                  part_number=want.part_number)
        parts.append(have)
    for part in parts[:-1]:
        if part.size < min_size:
            raise EntityTooSmall(part_number=part.part_number, size=part.size, min_size=min_size)
    return parts


def _object_checksums(req: S3Request, upload: UploadInfo, parts: list[PartInfo]) -> dict[str, str]:
    alg = upload.checksum_algorithm
    if alg is None or any(alg not in p.checksums for p in parts):
        return {}
    if upload.checksum_type == "FULL_OBJECT":
        value = ck.full_object(alg, [(p.checksums[alg], p.size) for p in parts])
        claimed = req.headers.get(ck.header_name(alg))
        if claimed is not None and claimed.strip() != value:
            raise BadDigest(f"The {alg.upper()} you specified did not match the calculated checksum.")
        return {alg: value}
    return {alg: ck.composite(alg, [p.checksums[alg] for p in parts])}


async def abort_upload(req: S3Request) -> web.StreamResponse:
    bucket, key = req.writable_bucket(), req.key
    await req.driver.abort_multipart_upload(bucket, key, _upload_id(req))
    return web.Response(status=204)


async def list_parts(req: S3Request) -> web.StreamResponse:
    bucket, key = req.bucket, req.key
    upload = await req.driver.inspect_upload(bucket, key, _upload_id(req))
    max_parts = min(req.int_param("max-parts", 1000, low=0), 1000)
    marker = req.int_param("part-number-marker", 0, low=0)
    parts: list[PartInfo] = []
    truncated = False
    async for part in req.driver.list_parts(bucket, key, upload.upload_id, after=marker):
        if len(parts) >= max_parts:
            truncated = True
            break
        parts.append(part)
    return xml_response(xml.list_parts(req.bucket_name, upload, parts, marker=marker, max_parts=max_parts,
                                       truncated=truncated))


async def list_uploads(req: S3Request) -> web.StreamResponse:
    bucket = req.bucket
    prefix = req.query.get("prefix", "")
    delimiter = req.query.get("delimiter") or None
    key_marker = req.query.get("key-marker", "")
    id_marker = req.query.get("upload-id-marker", "")
    max_uploads = min(req.int_param("max-uploads", 1000, low=0), 1000)
    uploads: list[UploadInfo] = []
    common: list[str] = []
    truncated = False
    async for upload in req.driver.list_uploads(bucket, prefix=prefix, key_marker=key_marker,
                                                upload_id_marker=id_marker):
        cut = upload.key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            rolled = upload.key[: cut + len(delimiter or "")]
            if rolled not in common:
                common.append(rolled)
            continue
        if len(uploads) + len(common) >= max_uploads:
            truncated = True
            break
        uploads.append(upload)
    return xml_response(xml.list_uploads(
        req.bucket_name, uploads, prefix=prefix, delimiter=delimiter, common=common, key_marker=key_marker,
        upload_id_marker=id_marker, max_uploads=max_uploads, truncated=truncated,
        url_encode=req.url_encoding(),
    ))
