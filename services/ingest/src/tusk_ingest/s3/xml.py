"""The S3 XML documents: every response the gateway renders, and the request documents it parses."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from tusk_ingest.s3 import checksums as ck
from tusk_ingest.s3.driver import (
    CommonPrefix,
    DeleteResult,
    ObjectSummary,
    ObjectVersion,
    PartInfo,
    UploadInfo,
)
from tusk_ingest.s3.errors import MalformedXML

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
OWNER_ID = "tusk"
MAX_DOCUMENT = 4 * 1024 * 1024  # bytes of a request document (10,000 parts fit)
MAX_DELETE_KEYS = 1000


def iso(when: datetime) -> str:
    """`2009-10-12T17:50:30.000Z`, as S3 writes times in documents."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


class _Doc:
    """A tiny element builder: `doc.add(parent, "Tag", text)`; None text adds nothing."""

    def __init__(self, root: str, *, namespace: bool = True) -> None:
        self.root = ET.Element(root, {"xmlns": NS} if namespace else {})

    def add(self, parent: ET.Element, tag: str, text: object = "") -> ET.Element:
        el = ET.SubElement(parent, tag)
        if isinstance(text, bool):
            el.text = "true" if text else "false"
        elif text is not None:
            el.text = str(text)
        return el

    def opt(self, parent: ET.Element, tag: str, text: object) -> None:
        if text is not None and text != "":
            self.add(parent, tag, text)

    def bytes(self) -> bytes:
        return DECLARATION + ET.tostring(self.root, encoding="unicode").encode("utf-8")


def _enc(value: str | None, url: bool) -> str | None:
    if value is None:
        return None
    return quote(value, safe="/") if url else value


def _owner(doc: _Doc, parent: ET.Element) -> None:
    owner = doc.add(parent, "Owner")
    doc.add(owner, "ID", OWNER_ID)
    doc.add(owner, "DisplayName", OWNER_ID)


def _checksums(doc: _Doc, parent: ET.Element, values: Mapping[str, str], kind: str | None = None) -> None:
    for alg, value in values.items():
        doc.add(parent, ck.xml_name(alg), value)
    if values and kind:
        doc.add(parent, "ChecksumType", kind)


# ---------------------------------------------------------------------------- responses


def list_buckets(buckets: Iterable[tuple[str, datetime]]) -> bytes:
    doc = _Doc("ListAllMyBucketsResult")
    _owner(doc, doc.root)
    parent = doc.add(doc.root, "Buckets")
    for name, created in buckets:
        b = doc.add(parent, "Bucket")
        doc.add(b, "Name", name)
        doc.add(b, "CreationDate", iso(created))
    return doc.bytes()


@dataclass(frozen=True, slots=True)
class ListingPage:
    """One page of a listing: what ListObjects v1/v2 and ListObjectVersions render."""

    bucket: str
    prefix: str
    delimiter: str | None
    max_keys: int
    url_encode: bool
    items: Sequence[object] = ()  # ObjectSummary | ObjectVersion | CommonPrefix, in order
    truncated: bool = False
    next_marker: str | None = None


def _items(doc: _Doc, page: ListingPage, *, owner: bool) -> None:
    """Contents, then CommonPrefixes, as S3 lays them out (each group in key order)."""
    for item in page.items:
        if isinstance(item, ObjectSummary):
            c = doc.add(doc.root, "Contents")
            doc.add(c, "Key", _enc(item.key, page.url_encode))
            doc.add(c, "LastModified", iso(item.last_modified))
            doc.add(c, "ETag", quoted(item.etag))
            doc.add(c, "Size", item.size)
            if owner:
                _owner(doc, c)
            doc.add(c, "StorageClass", "STANDARD")
    for item in page.items:
        if isinstance(item, CommonPrefix):
            cp = doc.add(doc.root, "CommonPrefixes")
            doc.add(cp, "Prefix", _enc(item.prefix, page.url_encode))


def _listing_head(doc: _Doc, page: ListingPage) -> None:
    doc.add(doc.root, "Name", page.bucket)
    doc.add(doc.root, "Prefix", _enc(page.prefix, page.url_encode))


def list_objects_v1(page: ListingPage, *, marker: str) -> bytes:
    doc = _Doc("ListBucketResult")
    _listing_head(doc, page)
    doc.add(doc.root, "Marker", _enc(marker, page.url_encode))
    doc.add(doc.root, "MaxKeys", page.max_keys)
    doc.opt(doc.root, "Delimiter", _enc(page.delimiter, page.url_encode))
    doc.add(doc.root, "IsTruncated", page.truncated)
    if page.truncated and page.next_marker is not None:
        doc.add(doc.root, "NextMarker", _enc(page.next_marker, page.url_encode))
    if page.url_encode:
        doc.add(doc.root, "EncodingType", "url")
    _items(doc, page, owner=True)
    return doc.bytes()


def list_objects_v2(
    page: ListingPage, *, continuation_token: str | None, next_token: str | None, start_after: str | None,
    fetch_owner: bool,
) -> bytes:
    doc = _Doc("ListBucketResult")
    _listing_head(doc, page)
    doc.add(doc.root, "KeyCount", len(page.items))
    doc.add(doc.root, "MaxKeys", page.max_keys)
    doc.opt(doc.root, "Delimiter", _enc(page.delimiter, page.url_encode))
    doc.add(doc.root, "IsTruncated", page.truncated)
    doc.opt(doc.root, "ContinuationToken", continuation_token)
    if page.truncated:
        doc.add(doc.root, "NextContinuationToken", next_token)
    doc.opt(doc.root, "StartAfter", _enc(start_after, page.url_encode))
    if page.url_encode:
        doc.add(doc.root, "EncodingType", "url")
    _items(doc, page, owner=fetch_owner)
    return doc.bytes()


def list_versions(
    page: ListingPage, *, key_marker: str, version_id_marker: str,
    next_key_marker: str | None, next_version_id_marker: str | None,
) -> bytes:
    doc = _Doc("ListVersionsResult")
    _listing_head(doc, page)
    doc.add(doc.root, "KeyMarker", _enc(key_marker, page.url_encode))
    doc.add(doc.root, "VersionIdMarker", version_id_marker)
    if page.truncated:
        doc.opt(doc.root, "NextKeyMarker", _enc(next_key_marker, page.url_encode))
        doc.opt(doc.root, "NextVersionIdMarker", next_version_id_marker)
    doc.add(doc.root, "MaxKeys", page.max_keys)
    doc.opt(doc.root, "Delimiter", _enc(page.delimiter, page.url_encode))
    doc.add(doc.root, "IsTruncated", page.truncated)
    if page.url_encode:
        doc.add(doc.root, "EncodingType", "url")
    for item in page.items:
        if isinstance(item, CommonPrefix):
            cp = doc.add(doc.root, "CommonPrefixes")
            doc.add(cp, "Prefix", _enc(item.prefix, page.url_encode))
            continue
        assert isinstance(item, ObjectVersion)
        v = doc.add(doc.root, "DeleteMarker" if item.delete_marker else "Version")
        doc.add(v, "Key", _enc(item.key, page.url_encode))
        doc.add(v, "VersionId", item.version_id)
        doc.add(v, "IsLatest", item.is_latest)
        doc.add(v, "LastModified", iso(item.last_modified))
        if not item.delete_marker:
            doc.add(v, "ETag", quoted(item.etag))
            doc.add(v, "Size", item.size)
            doc.add(v, "StorageClass", "STANDARD")
        _owner(doc, v)
    return doc.bytes()


def initiate_multipart(bucket: str, key: str, upload_id: str) -> bytes:
    doc = _Doc("InitiateMultipartUploadResult")
    doc.add(doc.root, "Bucket", bucket)
    doc.add(doc.root, "Key", key)
    doc.add(doc.root, "UploadId", upload_id)
    return doc.bytes()


def complete_multipart(
    location: str, bucket: str, key: str, etag: str, checksums: Mapping[str, str], kind: str | None
) -> bytes:
    doc = _Doc("CompleteMultipartUploadResult")
    doc.add(doc.root, "Location", location)
    doc.add(doc.root, "Bucket", bucket)
    doc.add(doc.root, "Key", key)
    doc.add(doc.root, "ETag", quoted(etag))
    _checksums(doc, doc.root, checksums, kind)
    return doc.bytes()


def list_parts(
    bucket: str, upload: UploadInfo, parts: Sequence[PartInfo], *, marker: int, max_parts: int,
    truncated: bool,
) -> bytes:
    doc = _Doc("ListPartsResult")
    doc.add(doc.root, "Bucket", bucket)
    doc.add(doc.root, "Key", upload.key)
    doc.add(doc.root, "UploadId", upload.upload_id)
    for tag in ("Initiator", "Owner"):
        el = doc.add(doc.root, tag)
        doc.add(el, "ID", OWNER_ID)
        doc.add(el, "DisplayName", OWNER_ID)
    doc.add(doc.root, "StorageClass", "STANDARD")
    doc.add(doc.root, "PartNumberMarker", marker)
    doc.add(doc.root, "NextPartNumberMarker", parts[-1].part_number if parts else marker)
    doc.add(doc.root, "MaxParts", max_parts)
    doc.add(doc.root, "IsTruncated", truncated)
    if upload.checksum_algorithm:
        doc.add(doc.root, "ChecksumAlgorithm", upload.checksum_algorithm.upper())
        doc.opt(doc.root, "ChecksumType", upload.checksum_type)
    for part in parts:
        p = doc.add(doc.root, "Part")
        doc.add(p, "PartNumber", part.part_number)
        doc.add(p, "LastModified", iso(part.last_modified))
        doc.add(p, "ETag", quoted(part.etag))
        doc.add(p, "Size", part.size)
        _checksums(doc, p, part.checksums)
    return doc.bytes()


def list_uploads(
    bucket: str, uploads: Sequence[UploadInfo], *, prefix: str, delimiter: str | None,
    common: Sequence[str], key_marker: str, upload_id_marker: str, max_uploads: int, truncated: bool,
    url_encode: bool,
) -> bytes:
    doc = _Doc("ListMultipartUploadsResult")
    doc.add(doc.root, "Bucket", bucket)
    doc.add(doc.root, "KeyMarker", _enc(key_marker, url_encode))
    doc.add(doc.root, "UploadIdMarker", upload_id_marker)
    if truncated and uploads:
        doc.add(doc.root, "NextKeyMarker", _enc(uploads[-1].key, url_encode))
        doc.add(doc.root, "NextUploadIdMarker", uploads[-1].upload_id)
    doc.add(doc.root, "Prefix", _enc(prefix, url_encode))
    doc.opt(doc.root, "Delimiter", _enc(delimiter, url_encode))
    doc.add(doc.root, "MaxUploads", max_uploads)
    doc.add(doc.root, "IsTruncated", truncated)
    if url_encode:
        doc.add(doc.root, "EncodingType", "url")
    for u in uploads:
        el = doc.add(doc.root, "Upload")
        doc.add(el, "Key", _enc(u.key, url_encode))
        doc.add(el, "UploadId", u.upload_id)
        for tag in ("Initiator", "Owner"):
            who = doc.add(el, tag)
            doc.add(who, "ID", OWNER_ID)
            doc.add(who, "DisplayName", OWNER_ID)
        doc.add(el, "StorageClass", "STANDARD")
        doc.add(el, "Initiated", iso(u.initiated))
        if u.checksum_algorithm:
            doc.add(el, "ChecksumAlgorithm", u.checksum_algorithm.upper())
    for p in common:
        cp = doc.add(doc.root, "CommonPrefixes")
        doc.add(cp, "Prefix", _enc(p, url_encode))
    return doc.bytes()


def copy_result(etag: str, last_modified: datetime, checksums: Mapping[str, str], *, part: bool) -> bytes:
    doc = _Doc("CopyPartResult" if part else "CopyObjectResult")
    doc.add(doc.root, "LastModified", iso(last_modified))
    doc.add(doc.root, "ETag", quoted(etag))
    _checksums(doc, doc.root, checksums)
    return doc.bytes()


def delete_result(
    deleted: Sequence[DeleteResult], failed: Sequence[tuple[str, str, str]], *, quiet: bool
) -> bytes:
    """`failed` holds (key, S3 code, message)."""
    doc = _Doc("DeleteResult")
    if not quiet:
        for d in deleted:
            el = doc.add(doc.root, "Deleted")
            doc.add(el, "Key", d.key)
            if d.version_id:
                doc.add(el, "DeleteMarker", True)
                doc.add(el, "DeleteMarkerVersionId", d.version_id)
    for key, code, message in failed:
        el = doc.add(doc.root, "Error")
        doc.add(el, "Key", key)
        doc.add(el, "Code", code)
        doc.add(el, "Message", message)
    return doc.bytes()


def location_constraint(region: str) -> bytes:
    doc = _Doc("LocationConstraint")
    doc.root.text = "" if region == "us-east-1" else region
    return doc.bytes()


def versioning_configuration(status: str = "Enabled") -> bytes:
    doc = _Doc("VersioningConfiguration")
    doc.add(doc.root, "Status", status)
    return doc.bytes()


def error(code: str, message: str, *, resource: str, request_id: str, **extra: object) -> bytes:
    doc = _Doc("Error", namespace=False)
    doc.add(doc.root, "Code", code)
    doc.add(doc.root, "Message", message)
    for name, value in extra.items():
        doc.opt(doc.root, name, value)
    doc.add(doc.root, "Resource", resource)
    doc.add(doc.root, "RequestId", request_id)
    return doc.bytes()


# ---------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class CompletedPart:
    part_number: int
    etag: str
    checksums: Mapping[str, str] = field(default_factory=dict)


def _parse(body: bytes, root: str) -> ET.Element:
    if len(body) > MAX_DOCUMENT:
        raise MalformedXML("the XML document is too large")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise MalformedXML("XML documents with a DOCTYPE or entities are not accepted")
    try:
        el = ET.fromstring(body)
    except ET.ParseError as e:
        raise MalformedXML() from e
    if _local(el.tag) != root:
        raise MalformedXML(f"expected a {root} document, got {_local(el.tag)}")
    return el


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _text(el: ET.Element, name: str) -> str | None:
    found = _children(el, name)
    return (found[0].text or "") if found else None


def parse_complete(body: bytes) -> list[CompletedPart]:
    """`<CompleteMultipartUpload><Part><PartNumber/><ETag/>[<ChecksumCRC32/>...]</Part>...`."""
    root = _parse(body, "CompleteMultipartUpload")
    parts = []
    for p in _children(root, "Part"):
        number, etag = _text(p, "PartNumber"), _text(p, "ETag")
        if number is None or etag is None or not number.strip().isdigit():
            raise MalformedXML("every Part needs a PartNumber and an ETag")
        sums = {}
        for alg in ck.ALGORITHMS:
            value = _text(p, ck.xml_name(alg))
            if value is not None:
                sums[alg] = value.strip()
        parts.append(CompletedPart(int(number), etag.strip().strip('"'), sums))
    if not parts:
        raise MalformedXML("a CompleteMultipartUpload document needs at least one Part")
    return parts


def parse_delete(body: bytes) -> tuple[bool, list[tuple[str, str | None]]]:
    """`<Delete><Quiet/><Object><Key/><VersionId/></Object>...` -> (quiet, [(key, version id)])."""
    root = _parse(body, "Delete")
    quiet = (_text(root, "Quiet") or "").strip().lower() == "true"
    objects = []
    for o in _children(root, "Object"):
        key = _text(o, "Key")
        if key is None:
            raise MalformedXML("every Object needs a Key")
        objects.append((key, _text(o, "VersionId")))
    if not objects or len(objects) > MAX_DELETE_KEYS:
        raise MalformedXML(f"a Delete document names 1 to {MAX_DELETE_KEYS} objects")
    return quiet, objects


def parse_versioning(body: bytes) -> str | None:
    return _text(_parse(body, "VersioningConfiguration"), "Status")


def parse_create_bucket(body: bytes) -> str | None:
    """The LocationConstraint of a CreateBucketConfiguration (an empty body is fine)."""
    if not body.strip():
        return None
    return _text(_parse(body, "CreateBucketConfiguration"), "LocationConstraint")
