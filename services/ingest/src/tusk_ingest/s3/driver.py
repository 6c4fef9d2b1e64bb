"""The `Driver` port: what the S3 protocol layer needs from versioned storage.

The protocol layer (auth, XML, ranges, conditionals, checksums, ETags, multipart validation) lives in
this package; a driver only stores and reads. The ingest implements it over the versioning service and
the chunk store; `MemoryDriver` implements it in memory for tests.

Contract every driver keeps:
- Buckets are `Bucket` values (see `buckets.py`): `branch=None` is the repo's default branch; a bucket
  with a `commit` is read-only (the protocol layer refuses writes before calling the driver).
- Keys are file paths without the leading `/`. A key ending in `/` with an empty body (a "directory
  marker") stores nothing: directories are implicit. Keys are listed in UTF-8 byte order (= code point
  order).
- Each write (put, copy, delete, delete_objects, complete) is atomic and visible to the next read of
  the branch. With no open commit on the branch it is one finished commit; with an open one it lands
  in it. Version ids are commit ids: `version_id` of a result is the commit the write made or joined.
- `body` arguments are `Payload`s: async iterables of bytes whose `md5_hex`, `size` and `checksums`
  are valid once iteration ended. If iterating raises (bad digest, bad signature, client gone), the
  driver stores nothing and lets the exception propagate.
- `commit_group` (a context variable) is set while a write asked for a commit group; drivers without
  groups ignore it.
- Errors: raise the classes of `tusk_ingest.s3.errors` (NoSuchBucket, NoSuchKey, NoSuchUpload,
  NoSuchVersion, BucketAlreadyOwnedByYou, BucketNotEmpty, PreconditionFailed, ...) or plain
  `tusk_common.errors` ones; `errors.to_s3` maps both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tusk_ingest.s3.buckets import Bucket

# The standard headers S3 stores with an object and returns on GET/HEAD.
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")

# `x-tusk-commit-group: MS` on a write: the gateway sets this for the request; a driver that supports
# commit groups lands the write in the branch's group commit, finished after MS ms without writes
# (`MemoryDriver` ignores it).
COMMIT_GROUP_HEADER = "x-tusk-commit-group"
commit_group: ContextVar[int | None] = ContextVar("tusk_s3_commit_group", default=None)


@dataclass(frozen=True, slots=True)
class BucketInfo:
    bucket: Bucket
    created: datetime


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """What a writer says about an object besides its bytes."""

    content_type: str | None = None
    user: Mapping[str, str] = field(default_factory=dict)  # x-amz-meta-NAME (lower-case NAME) -> value
    headers: Mapping[str, str] = field(default_factory=dict)  # STORED_HEADERS that were sent


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object (a file at a commit) as GET/HEAD describe it."""

    key: str
    size: int
    etag: str  # unquoted: MD5 hex, or `HEX-N` for multipart uploads
    last_modified: datetime
    version_id: str | None = None  # a commit id the object can be read at
    meta: ObjectMeta = field(default_factory=ObjectMeta)
    checksums: Mapping[str, str] = field(default_factory=dict)  # algorithm -> base64 (`-N` if composite)
    checksum_type: str | None = None  # FULL_OBJECT or COMPOSITE
    part_sizes: tuple[int, ...] | None = None  # sizes of the multipart parts it was made from


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    """One key of a listing."""

    key: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class CommonPrefix:
    """Keys rolled up by the delimiter: `prefix` ends with the delimiter."""

    prefix: str


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One version of a key: the commit that wrote (or deleted) it."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    size: int = 0
    etag: str = ""
    delete_marker: bool = False


@dataclass(frozen=True, slots=True)
class ObjectStream:
    """An object resolved at one version, and a way to read any byte range of exactly that version."""

    info: ObjectInfo
    read: Callable[[int, int], AsyncIterator[bytes | memoryview]]  # (start, stop) -> bytes start..stop-1


@dataclass(frozen=True, slots=True)
class PutResult:
    etag: str
    version_id: str | None
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class DeleteResult:
    key: str
    version_id: str | None  # the commit that deleted it; None when nothing was there
    delete_marker: bool = True


@dataclass(frozen=True, slots=True)
class UploadInfo:
    """A multipart upload in progress."""

    bucket: Bucket
    key: str
    upload_id: str
    initiated: datetime
    meta: ObjectMeta = field(default_factory=ObjectMeta)
    checksum_algorithm: str | None = None
    checksum_type: str | None = None


@dataclass(frozen=True, slots=True)
class PartInfo:
    part_number: int
    size: int
    etag: str  # unquoted MD5 hex of the part's bytes
    last_modified: datetime
    checksums: Mapping[str, str] = field(default_factory=dict)


class Payload(Protocol):
    """A request body being streamed: iterate once; the digests are valid after the end.

    A driver whose storage hashes the bytes with MD5 anyway calls `defer_md5()` before iterating and
    `settle_md5(hex)` once it has that MD5 (which checks Content-MD5, raising BadDigest): the body
    then skips its own MD5, and `md5_hex` is the settled value.
    """

    def __aiter__(self) -> AsyncIterator[bytes | memoryview]: ...
    @property
    def size(self) -> int: ...
    @property
    def md5_hex(self) -> str: ...
    @property
    def checksums(self) -> Mapping[str, str]: ...
    def defer_md5(self) -> None: ...
    def settle_md5(self, md5_hex: str) -> None: ...


class Driver(Protocol):
    """Versioned storage as the S3 protocol layer sees it."""

    # ---------------------------------------------------------------- buckets
    async def list_buckets(self) -> Sequence[BucketInfo]:
        """`REPO` for every repo and `BRANCH.REPO` for every branch other than the default."""
        ...

    async def create_bucket(self, bucket: Bucket) -> BucketInfo:
        """`REPO`: a repo with its default branch. `BRANCH.REPO`: a branch at the default branch's head
        (the repo is created first if missing). Exists already: BucketAlreadyOwnedByYou."""
        ...

    async def delete_bucket(self, bucket: Bucket) -> None:
        """Deletes the branch; deletes the repo when it was the last branch and empty. A last branch that
        holds files, or a default branch while others exist: BucketNotEmpty."""
        ...

    async def head_bucket(self, bucket: Bucket) -> BucketInfo:
        """NoSuchBucket unless the repo, branch (and commit) exist."""
        ...

    # ---------------------------------------------------------------- reading
    def list_objects(
        self, bucket: Bucket, *, prefix: str = "", delimiter: str | None = None, start_after: str = "",
        limit: int | None = None,
    ) -> AsyncIterator[ObjectSummary | CommonPrefix]:
        """Keys with `prefix`, strictly after `start_after`, in order. With a delimiter, the keys whose
        rest after `prefix` contains it are rolled up into one `CommonPrefix` (up to and including its
        first occurrence), yielded at its place in the order and only if it sorts after `start_after`.
        `limit` is a hint (the caller takes at most that many items, then closes the iterator): size
        backend pages by it and do not read ahead past it."""
        ...

    def list_object_versions(
        self, bucket: Bucket, *, prefix: str = "", delimiter: str | None = None,
        key_marker: str = "", version_id_marker: str = "",
    ) -> AsyncIterator[ObjectVersion | CommonPrefix]:
        """Versions by key, then newest first; versions are the commits of the branch that changed the
        key (deletes are delete markers). Starts after (key_marker, version_id_marker)."""
        ...

    async def head_object(self, bucket: Bucket, key: str, *, version_id: str | None = None) -> ObjectInfo:
        """NoSuchKey, or NoSuchVersion when `version_id` (a commit id) does not hold the key."""
        ...

    async def get_object(self, bucket: Bucket, key: str, *, version_id: str | None = None) -> ObjectStream:
        """The object resolved once; reads of its stream see that version even if the key changes."""
        ...

    # ---------------------------------------------------------------- writing
    async def put_object(
        self, bucket: Bucket, key: str, body: Payload, meta: ObjectMeta, *,
        if_none_match: bool = False, if_match: str | None = None,
    ) -> PutResult:
        """Stores the body with `meta`; ETag = `body.md5_hex`, checksums = `body.checksums` (verified
        against what the client sent by the time iteration ends). `if_none_match`: PreconditionFailed
        if the key exists; `if_match`: PreconditionFailed unless its ETag is that one (NoSuchKey if
        there is no key)."""
        ...

    async def copy_object(
        self, src: Bucket, src_key: str, dst: Bucket, dst_key: str, *,
        src_version_id: str | None = None, meta: ObjectMeta | None = None,
    ) -> PutResult:
        """Copies by reference (no bytes move). `meta` None keeps the source's metadata."""
        ...

    async def delete_object(self, bucket: Bucket, key: str) -> DeleteResult:
        """Deletes the current version; deleting a missing key succeeds with `version_id` None."""
        ...

    async def delete_objects(self, bucket: Bucket, keys: Sequence[str]) -> Sequence[DeleteResult]:
        """Deletes many keys in one atomic write; one result per key, in order."""
        ...

    # ---------------------------------------------------------------- multipart
    async def create_multipart_upload(
        self, bucket: Bucket, key: str, meta: ObjectMeta, *,
        checksum_algorithm: str | None = None, checksum_type: str | None = None,
    ) -> UploadInfo: ...

    async def upload_part(
        self, bucket: Bucket, key: str, upload_id: str, part_number: int, body: Payload
    ) -> PartInfo:
        """Stores (or replaces) one part, streamed; ETag and checksums from `body` once it ended."""
        ...

    async def upload_part_copy(
        self, bucket: Bucket, key: str, upload_id: str, part_number: int, *,
        src: Bucket, src_key: str, src_version_id: str | None, start: int, stop: int,
    ) -> PartInfo:
        """A part made of bytes start..stop-1 of another object (sharing its chunks where it can)."""
        ...

    async def inspect_upload(self, bucket: Bucket, key: str, upload_id: str) -> UploadInfo:
        """NoSuchUpload unless the upload exists for that bucket and key."""
        ...

    def list_parts(
        self, bucket: Bucket, key: str, upload_id: str, *, after: int = 0
    ) -> AsyncIterator[PartInfo]:
        """Parts with a number above `after`, by number."""
        ...

    def list_uploads(
        self, bucket: Bucket, *, prefix: str = "", key_marker: str = "", upload_id_marker: str = ""
    ) -> AsyncIterator[UploadInfo]:
        """Uploads in progress by (key, initiated, upload id), after the markers."""
        ...

    async def complete_multipart_upload(
        self, bucket: Bucket, key: str, upload_id: str, part_numbers: Sequence[int], *,
        etag: str, checksums: Mapping[str, str], checksum_type: str | None = None,
        if_none_match: bool = False, if_match: str | None = None,
    ) -> PutResult:
        """Concatenates the named parts (validated by the caller) into the object, atomically, with the
        ETag and checksums the caller computed; the upload and its unused parts are gone after."""
        ...

    async def abort_multipart_upload(self, bucket: Bucket, key: str, upload_id: str) -> None:
        """Forgets the upload; its parts' chunks become garbage."""
        ...


def order_versions(
    history: dict[str, list[ObjectVersion]], prefix: str, delimiter: str | None, key_marker: str,
    version_id_marker: str,
) -> list[ObjectVersion | CommonPrefix]:
    """ListObjectVersions' order, shared by every driver: by key, then newest first, keys under
    `delimiter` rolled up into common prefixes, starting after the markers. `history` maps each key (under
    `prefix`) to its versions, newest first."""
    out: list[ObjectVersion | CommonPrefix] = []
    rolled: set[str] = set()
    for key in sorted(history):
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = key[: cut + len(delimiter or "")]
            if common not in rolled and common > key_marker:
                rolled.add(common)
                out.append(CommonPrefix(common))
            continue
        if key < key_marker:
            continue
        versions = history[key]
        if key == key_marker:
            if not version_id_marker:
                continue
            ids = [ver.version_id for ver in versions]
            versions = versions[ids.index(version_id_marker) + 1:] if version_id_marker in ids else []
        out += versions
    return out
