"""Response documents render as S3 clients parse them; request documents parse or are MalformedXML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from tusk_ingest.s3 import errors, xml
from tusk_ingest.s3.buckets import Bucket
from tusk_ingest.s3.driver import (
    CommonPrefix,
    DeleteResult,
    ObjectSummary,
    ObjectVersion,
    PartInfo,
    UploadInfo,
)

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
WHEN = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def parse(doc: bytes) -> ET.Element:
    assert doc.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(doc)


def text(el: ET.Element, path: str) -> str | None:
    found = el.find("/".join(NS + p for p in path.split("/")))
    return None if found is None else found.text


def test_list_buckets() -> None:
    root = parse(xml.list_buckets([("images", WHEN), ("dev.images", WHEN)]))
    assert root.tag == NS + "ListAllMyBucketsResult"
    assert [b.text for b in root.iter(NS + "Name")] == ["images", "dev.images"]
    assert text(root, "Buckets/Bucket/CreationDate") == "2024-05-06T07:08:09.123Z"
    assert text(root, "Owner/ID") == "tusk"


def test_list_objects_v2_with_url_encoding() -> None:
    page = xml.ListingPage("images", "dir a/", "/", 2, True,
                           [ObjectSummary("dir a/é+x.txt", 3, "abc", WHEN), CommonPrefix("dir a/sub dir/")],
                           truncated=True, next_marker="dir a/sub dir/")
    root = parse(xml.list_objects_v2(page, continuation_token=None, next_token="tok", start_after=None,
                                     fetch_owner=False))
    assert text(root, "Contents/Key") == "dir%20a/%C3%A9%2Bx.txt"
    assert text(root, "Contents/ETag") == '"abc"'
    assert text(root, "Contents/Size") == "3"
    assert text(root, "CommonPrefixes/Prefix") == "dir%20a/sub%20dir/"
    assert text(root, "Prefix") == "dir%20a/"
    assert (text(root, "KeyCount"), text(root, "IsTruncated"), text(root, "NextContinuationToken")) == \
        ("2", "true", "tok")
    assert text(root, "EncodingType") == "url"
    assert root.find(NS + "Contents/" + NS + "Owner") is None


def test_list_objects_v1_and_versions() -> None:
    page = xml.ListingPage("images", "", None, 1000, False, [ObjectSummary("a&b<c>", 1, "e", WHEN)])
    root = parse(xml.list_objects_v1(page, marker=""))
    assert text(root, "Contents/Key") == "a&b<c>" and text(root, "IsTruncated") == "false"
    assert text(root, "Contents/Owner/ID") == "tusk"
    versions = xml.ListingPage("images", "", None, 1000, False, [
        ObjectVersion("k", "c2", True, WHEN, delete_marker=True), ObjectVersion("k", "c1", False, WHEN, 4, "e")])
    root = parse(xml.list_versions(versions, key_marker="", version_id_marker="", next_key_marker=None,
                                   next_version_id_marker=None))
    assert root.tag == NS + "ListVersionsResult"
    assert text(root, "DeleteMarker/VersionId") == "c2" and text(root, "DeleteMarker/IsLatest") == "true"
    assert text(root, "Version/VersionId") == "c1" and text(root, "Version/Size") == "4"


def test_multipart_documents() -> None:
    assert text(parse(xml.initiate_multipart("b", "k", "u1")), "UploadId") == "u1"
    root = parse(xml.complete_multipart("http://h/b/k", "b", "k", "abc-2", {"crc32": "AAAAAA==-2"}, "COMPOSITE"))
    assert (text(root, "ETag"), text(root, "ChecksumCRC32"), text(root, "ChecksumType")) == \
        ('"abc-2"', "AAAAAA==-2", "COMPOSITE")
    upload = UploadInfo(Bucket("b"), "k", "u1", WHEN, checksum_algorithm="crc32", checksum_type="COMPOSITE")
    root = parse(xml.list_parts("b", upload, [PartInfo(1, 5, "e1", WHEN, {"crc32": "AAAAAA=="})], marker=0,
                                max_parts=1, truncated=True))
    assert (text(root, "Part/PartNumber"), text(root, "NextPartNumberMarker"), text(root, "ChecksumAlgorithm")) \
        == ("1", "1", "CRC32")
    root = parse(xml.list_uploads("b", [upload], prefix="", delimiter=None, common=["d/"], key_marker="",
                                  upload_id_marker="", max_uploads=1, truncated=True, url_encode=False))
    assert (text(root, "Upload/UploadId"), text(root, "NextUploadIdMarker")) == ("u1", "u1")
    assert text(root, "CommonPrefixes/Prefix") == "d/"
    assert parse(xml.copy_result("e", WHEN, {}, part=True)).tag == NS + "CopyPartResult"
    assert parse(xml.copy_result("e", WHEN, {}, part=False)).tag == NS + "CopyObjectResult"


def test_small_documents() -> None:
    assert parse(xml.location_constraint("us-east-1")).text in (None, "")
    assert parse(xml.location_constraint("eu-west-1")).text == "eu-west-1"
    assert text(parse(xml.versioning_configuration()), "Status") == "Enabled"
    root = parse(xml.delete_result([DeleteResult("a", "c1"), DeleteResult("b", None)],
                                   [("c", "NotImplemented", "no")], quiet=False))
    assert [d.text for d in root.iter(NS + "Key")] == ["a", "b", "c"]
    assert text(root, "Deleted/DeleteMarkerVersionId") == "c1"
    assert text(root, "Error/Code") == "NotImplemented"
    assert root.find(NS + "Deleted") is not None
    quiet = parse(xml.delete_result([DeleteResult("a", "c1")], [], quiet=True))
    assert quiet.find(NS + "Deleted") is None


def test_error_document() -> None:
    root = parse(xml.error("NoSuchKey", "The specified key does not exist.", resource="/b/k", request_id="R1",
                           Key="k"))
    assert root.tag == "Error"
    assert [c.tag for c in root] == ["Code", "Message", "Key", "Resource", "RequestId"]
    assert root.findtext("RequestId") == "R1"


def test_parse_complete_and_delete() -> None:
    body = (b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b'<Part><ETag>"e1"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>'
            b"<Part><PartNumber>2</PartNumber><ETag>e2</ETag></Part></CompleteMultipartUpload>")
    parts = xml.parse_complete(body)
    assert [(p.part_number, p.etag, dict(p.checksums)) for p in parts] == \
        [(1, "e1", {"crc32": "AAAAAA=="}), (2, "e2", {})]
    quiet, objects = xml.parse_delete(
        b"<Delete><Quiet>true</Quiet><Object><Key>a b</Key></Object>"
        b"<Object><Key>c</Key><VersionId>v</VersionId></Object></Delete>")
    assert quiet and objects == [("a b", None), ("c", "v")]
    assert xml.parse_create_bucket(b"") is None
    assert xml.parse_create_bucket(
        b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
        b"</CreateBucketConfiguration>") == "eu-west-1"


@pytest.mark.parametrize("body", [
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
    b"<CompleteMultipartUpload></CompleteMultipartUpload>",
    b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
    b"<Delete><Object><Key>a</Key></Object></Delete>",
    b"not xml at all",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><CompleteMultipartUpload>&a;</CompleteMultipartUpload>',
])
def test_malformed_complete_documents(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        xml.parse_complete(body)


def test_delete_limits() -> None:
    with pytest.raises(errors.MalformedXML):
        xml.parse_delete(b"<Delete></Delete>")
    many = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>"
    with pytest.raises(errors.MalformedXML):
        xml.parse_delete(many)
