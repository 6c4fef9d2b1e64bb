"""Multipart uploads kept in the object store, so any ingest replica continues any upload.

The ingest holds no upload state of its own: an upload is a small JSON record and each stored part
another, next to the chunks the parts were streamed into:

    s3-gateway/uploads/<repo>/<branch>/<upload id>.json   the upload: bucket, key, metadata, checksums
    s3-gateway/parts/<upload id>/<00001..10000>.json      one part: its FileContent, size, MD5, checksums

A restart loses nothing, and a part stored through one replica is completed through another. Aborting
(or completing) deletes the records; the parts' chunks become garbage for the store's GC. An upload
older than the expiry (`TUSK_S3_GATEWAY_UPLOAD_EXPIRY`) is NoSuchUpload, and its records are removed
the next time anything looks at it.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tusk_common.errors import NotFound
from tusk_common.store import ObjectStore
from tusk_common.wire.versioning import FileContent
from tusk_ingest.s3.buckets import Bucket
from tusk_ingest.s3.driver import ObjectMeta, PartInfo, UploadInfo

UPLOADS = "s3-gateway/uploads/"
PARTS = "s3-gateway/parts/"
_READ_CONCURRENCY = 16  # part records fetched at once when listing parts


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """One multipart upload in progress, as stored."""

    repo: str
    branch: str  # resolved: a `REPO` bucket's upload names the default branch
    bucket: str  # the bucket name it was created through
    key: str
    upload_id: str
    initiated: datetime
    meta: ObjectMeta = field(default_factory=ObjectMeta)
    checksum_algorithm: str | None = None
    checksum_type: str | None = None

    @property
    def record_key(self) -> str:
        return f"{UPLOADS}{self.repo}/{self.branch}/{self.upload_id}.json"

    def info(self, bucket: Bucket) -> UploadInfo:
        return UploadInfo(bucket, self.key, self.upload_id, self.initiated, self.meta,
                          self.checksum_algorithm, self.checksum_type)

    def to_json(self) -> bytes:
        return json.dumps({
            "v": 1, "repo": self.repo, "branch": self.branch, "bucket": self.bucket, "key": self.key,
            "upload_id": self.upload_id, "initiated": self.initiated.isoformat(),
            "meta": {"content_type": self.meta.content_type, "user": dict(self.meta.user),
                     "headers": dict(self.meta.headers)},
            "checksum_algorithm": self.checksum_algorithm, "checksum_type": self.checksum_type,
        }, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> UploadRecord:
        d = json.loads(data)
        m = d["meta"]
        return cls(
            repo=d["repo"], branch=d["branch"], bucket=d["bucket"], key=d["key"], upload_id=d["upload_id"],
            initiated=datetime.fromisoformat(d["initiated"]),
            meta=ObjectMeta(m["content_type"], m["user"], m["headers"]),
            checksum_algorithm=d["checksum_algorithm"], checksum_type=d["checksum_type"],
        )


@dataclass(frozen=True, slots=True)
class PartRecord:
    """One stored part: where its bytes are and what the client was told about them."""

    part_number: int
    size: int
    etag: str
    last_modified: datetime
    content: FileContent
    checksums: dict[str, str] = field(default_factory=dict)

    def info(self) -> PartInfo:
        return PartInfo(self.part_number, self.size, self.etag, self.last_modified, dict(self.checksums))

    def to_json(self) -> bytes:
        return json.dumps({
            "v": 1, "part_number": self.part_number, "size": self.size, "etag": self.etag,
            "last_modified": self.last_modified.isoformat(), "checksums": self.checksums,
            "content": self.content.model_dump(mode="json"),
        }, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> PartRecord:
        d = json.loads(data)
        return cls(d["part_number"], d["size"], d["etag"], datetime.fromisoformat(d["last_modified"]),
                   FileContent.model_validate(d["content"]), d["checksums"])


def part_key(upload_id: str, number: int) -> str:
    return f"{PARTS}{upload_id}/{number:05d}.json"


def new_upload_id() -> str:
    """Time-ordered (ms) then random, so ids of one key sort roughly by age; no dots or slashes."""
    return f"{int(time.time() * 1000):012x}{uuid.uuid4().hex[:20]}"


class UploadRecords:
    """Upload and part records on an `ObjectStore`; expired uploads read as missing."""

    def __init__(self, backend: ObjectStore, expiry: timedelta,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.backend = backend
        self.expiry = expiry
        self.clock = clock

    async def create(self, record: UploadRecord) -> None:
        await self.backend.put(record.record_key, record.to_json())

    async def get(self, repo: str, branch: str, upload_id: str) -> UploadRecord | None:
        """The live upload, or None when it is unknown, finished, aborted or expired."""
        if not _safe_id(upload_id):
            return None
        try:
            record = UploadRecord.from_json(await self.backend.get(f"{UPLOADS}{repo}/{branch}/{upload_id}.json"))
        except NotFound:
            return None
        if self._expired(record):
            await self.delete(record)
            return None
        return record

    async def list(self, repo: str, branch: str) -> list[UploadRecord]:
        """Live uploads of a branch, in no particular order (expired ones are removed on the way)."""
        out: list[UploadRecord] = []
        async for key in self.backend.list(f"{UPLOADS}{repo}/{branch}/"):
            try:
                record = UploadRecord.from_json(await self.backend.get(key))
            except NotFound:  # completed or aborted meanwhile
                continue
            if self._expired(record):
                await self.delete(record)
                continue
            out.append(record)
        return out

    async def put_part(self, upload_id: str, part: PartRecord) -> None:
        await self.backend.put(part_key(upload_id, part.part_number), part.to_json())

    async def parts(self, upload_id: str, *, after: int = 0) -> builtins.list[PartRecord]:
        """The stored parts numbered above `after`, by number."""
        keys = [k async for k in self.backend.list(f"{PARTS}{upload_id}/")]
        keys = [k for k in keys if _number(k) > after]
        slots = asyncio.Semaphore(_READ_CONCURRENCY)

        async def load(key: str) -> PartRecord | None:
            async with slots:
                try:
                    return PartRecord.from_json(await self.backend.get(key))
                except NotFound:
                    return None

        loaded = await asyncio.gather(*(load(k) for k in keys))
        return sorted((p for p in loaded if p is not None), key=lambda p: p.part_number)

    async def delete(self, record: UploadRecord) -> None:
        """The upload record first (the upload is gone from then on), then its parts."""
        await self.backend.delete(record.record_key)
        async for key in self.backend.list(f"{PARTS}{record.upload_id}/"):
            await self.backend.delete(key)

    def _expired(self, record: UploadRecord) -> bool:
        return record.initiated + self.expiry <= self.clock()


def _safe_id(upload_id: str) -> bool:
    return 0 < len(upload_id) <= 64 and all(c in "0123456789abcdef" for c in upload_id)


def _number(key: str) -> int:
    try:
        return int(key.rsplit("/", 1)[-1].removesuffix(".json"))
    except ValueError:
        return 0
