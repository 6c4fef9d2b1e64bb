"""What S3 keeps about an object besides its bytes, as the string map versioning stores with a file.

    key                          value
    content-type                 Content-Type as written
    cache-control, expires, ...  the stored standard headers (`driver.STORED_HEADERS`)
    x-amz-meta-NAME              user metadata (NAME lower-case)
    s3-etag                      the ETag when it is not the content's MD5 (multipart: `HEX-N`)
    s3-checksum-ALG              a flexible checksum (base64, `-N` for a composite)
    s3-checksum-type             FULL_OBJECT or COMPOSITE
    s3-parts                     multipart part sizes, run-length encoded: `SIZE*COUNT,SIZE`

The map is part of the file's tree entry, so of the commit's Merkle hash: it holds nothing that changes
when the same bytes are written again with the same headers (no timestamps, no request ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tusk_common.wire.versioning import FileContent, FileInfo
from tusk_ingest.s3.driver import STORED_HEADERS, ObjectInfo, ObjectMeta, ObjectSummary

USER_PREFIX = "x-amz-meta-"
CONTENT_TYPE = "content-type"
ETAG = "s3-etag"
CHECKSUM_PREFIX = "s3-checksum-"
CHECKSUM_TYPE = "s3-checksum-type"
PARTS = "s3-parts"
SYSTEM_PREFIX = "s3-"
# Part sizes of uploads with many unequal parts are dropped rather than bloat the tree node; such an
# object then answers `partNumber` reads as a single-part object would.
MAX_PARTS_TEXT = 4096


def encode(
    meta: ObjectMeta, *, etag: str | None = None, checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None, part_sizes: tuple[int, ...] | None = None,
) -> dict[str, str]:
    """The versioning metadata of an object; `etag` only when it is not the MD5 of the bytes."""
    out: dict[str, str] = {}
    if meta.content_type is not None:
        out[CONTENT_TYPE] = meta.content_type
    for name, value in meta.headers.items():
        out[name.lower()] = value
    for name, value in meta.user.items():
        out[USER_PREFIX + name.lower()] = value
    if etag is not None:
        out[ETAG] = etag
    for alg, value in (checksums or {}).items():
        out[CHECKSUM_PREFIX + alg] = value
    if checksums and checksum_type:
        out[CHECKSUM_TYPE] = checksum_type
    if part_sizes:
        text = encode_parts(part_sizes)
        if len(text) <= MAX_PARTS_TEXT:
            out[PARTS] = text
    return out


def object_meta(stored: Mapping[str, str] | None) -> ObjectMeta:
    """The writer's part of stored metadata: content type, stored headers, user metadata."""
    stored = stored or {}
    user = {k[len(USER_PREFIX):]: v for k, v in stored.items() if k.startswith(USER_PREFIX)}
    headers = {k: stored[k] for k in STORED_HEADERS if k in stored}
    return ObjectMeta(content_type=stored.get(CONTENT_TYPE), user=user, headers=headers)


def system_part(stored: Mapping[str, str] | None) -> dict[str, str]:
    """What the gateway itself stored (ETag, checksums, part sizes): kept when a copy replaces metadata."""
    return {k: v for k, v in (stored or {}).items() if k.startswith(SYSTEM_PREFIX)}


def etag(content: FileContent | None, stored: Mapping[str, str] | None) -> str:
    """The object's ETag: the stored one (multipart), else the MD5 of its bytes."""
    if stored and ETAG in stored:
        return stored[ETAG]
    if content is not None and content.md5:
        return content.md5
    # Files whose MD5 nobody computed (a client uploaded their chunks, `tusk put file` of a big file)
    # still need a stable tag per content. It has the shape of a one-part multipart ETag: clients (aws
    # cli, rclone, s3fs) take 32 bare hex digits for an MD5 to check the bytes against, never `HEX-N`.
    return f"{content.id[:32]}-1" if content is not None else ""


def checksums(stored: Mapping[str, str] | None) -> dict[str, str]:
    return {k[len(CHECKSUM_PREFIX):]: v for k, v in (stored or {}).items() if k.startswith(CHECKSUM_PREFIX)}


def object_info(key: str, info: FileInfo, last_modified: datetime) -> ObjectInfo:
    """GET/HEAD's view of a file read at the commit `info.commit`."""
    stored = info.meta or {}
    parts = decode_parts(stored[PARTS]) if PARTS in stored else None
    sums = checksums(stored)
    return ObjectInfo(
        key=key, size=info.size, etag=etag(info.content, stored), last_modified=last_modified,
        version_id=info.commit, meta=object_meta(stored), checksums=sums,
        checksum_type=stored.get(CHECKSUM_TYPE) if sums else None, part_sizes=parts,
    )


def summary(key: str, info: FileInfo, last_modified: datetime) -> ObjectSummary:
    return ObjectSummary(key, info.size, etag(info.content, info.meta), last_modified)


def encode_parts(sizes: tuple[int, ...]) -> str:
    """`(5, 5, 5, 2)` -> `5*3,2`: uploads cut into equal parts stay a few bytes long."""
    runs: list[str] = []
    i = 0
    while i < len(sizes):
        j = i
        while j + 1 < len(sizes) and sizes[j + 1] == sizes[i]:
            j += 1
        count = j - i + 1
        runs.append(f"{sizes[i]}*{count}" if count > 1 else str(sizes[i]))
        i = j + 1
    return ",".join(runs)


def decode_parts(text: str) -> tuple[int, ...] | None:
    out: list[int] = []
    try:
        for run in text.split(","):
            size, _, count = run.partition("*")
            out += [int(size)] * (int(count) if count else 1)
    except ValueError:
        return None
    return tuple(out) or None
