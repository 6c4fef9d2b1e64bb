"""Multipart uploads of `TuskDriver`: parts streamed into chunks, state in the object store, and
completion by joining the parts' chunk manifests (no byte is copied)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping, Sequence

from tusk_common.store import manifest as manifests
from tusk_common.wire import versioning as v
from tusk_ingest.s3 import errors, tusk_meta
from tusk_ingest.s3.buckets import Bucket
from tusk_ingest.s3.driver import ObjectMeta, PartInfo, Payload, PutResult, UploadInfo
from tusk_ingest.s3.tusk_core import DriverCore, key_path, utcnow
from tusk_ingest.s3.tusk_uploads import PartRecord, UploadRecord, new_upload_id


class MultipartOps(DriverCore):
    """CreateMultipartUpload, UploadPart(Copy), ListParts/Uploads, Complete and Abort."""

    async def create_multipart_upload(
        self, bucket: Bucket, key: str, meta: ObjectMeta, *,
        checksum_algorithm: str | None = None, checksum_type: str | None = None,
    ) -> UploadInfo:
        key_path(key)
        repo, branch = await self._writable(bucket)
        record = UploadRecord(repo, branch, bucket.name, key, new_upload_id(), utcnow(), meta,
                              checksum_algorithm, checksum_type)
        await self.uploads.create(record)
        return record.info(bucket)

    async def _upload(self, bucket: Bucket, key: str, upload_id: str) -> UploadRecord:
        record = await self.uploads.get(bucket.repo, await self._branch(bucket), upload_id)
        if record is None or record.key != key:
            raise errors.NoSuchUpload(upload_id=upload_id)
        return record

    async def upload_part(
        self, bucket: Bucket, key: str, upload_id: str, part_number: int, body: Payload
    ) -> PartInfo:
        await self._upload(bucket, key, upload_id)
        content = await self._store_body(body)
        part = PartRecord(part_number, body.size, body.md5_hex, utcnow(), content, dict(body.checksums))
        await self.uploads.put_part(upload_id, part)
        return part.info()

    async def upload_part_copy(
        self, bucket: Bucket, key: str, upload_id: str, part_number: int, *,
        src: Bucket, src_key: str, src_version_id: str | None, start: int, stop: int,
    ) -> PartInfo:
        await self._upload(bucket, key, upload_id)
        source = await self._file(src, src_key, src_version_id)
        assert source.content is not None
        content = await self._store(self.store.read(source.content, start, stop - start))
        part = PartRecord(part_number, content.size, content.md5 or "", utcnow(), content)
        await self.uploads.put_part(upload_id, part)
        return part.info()

    async def inspect_upload(self, bucket: Bucket, key: str, upload_id: str) -> UploadInfo:
        return (await self._upload(bucket, key, upload_id)).info(bucket)

    async def list_parts(
        self, bucket: Bucket, key: str, upload_id: str, *, after: int = 0
    ) -> AsyncIterator[PartInfo]:
        await self._upload(bucket, key, upload_id)
        for part in await self.uploads.parts(upload_id, after=after):
            yield part.info()

    async def list_uploads(
        self, bucket: Bucket, *, prefix: str = "", key_marker: str = "", upload_id_marker: str = ""
    ) -> AsyncIterator[UploadInfo]:
        await self.head_bucket(bucket)
        records = await self.uploads.list(bucket.repo, await self._branch(bucket))
        mine = sorted((r for r in records if r.key.startswith(prefix)),
                      key=lambda r: (r.key, r.initiated, r.upload_id))
        for r in mine:
            if r.key < key_marker or (r.key == key_marker and (not upload_id_marker or r.upload_id <= upload_id_marker)):
                continue
            yield r.info(bucket)

    async def complete_multipart_upload(
        self, bucket: Bucket, key: str, upload_id: str, part_numbers: Sequence[int], *,
        etag: str, checksums: Mapping[str, str], checksum_type: str | None = None,
        if_none_match: bool = False, if_match: str | None = None,
    ) -> PutResult:
        record = await self._upload(bucket, key, upload_id)
        stored = {p.part_number: p for p in await self.uploads.parts(upload_id)}
        missing = [n for n in part_numbers if n not in stored]
        if missing:
            raise errors.InvalidPart(part_number=missing[0])
        parts = [stored[n] for n in part_numbers]
        content = await self._concatenate([p.content for p in parts])
        path = key_path(key)
        repo, branch = await self._writable(bucket)
        await self._check_conditions(repo, branch, key, path, if_none_match, if_match)
        meta = tusk_meta.encode(record.meta, etag=etag, checksums=checksums, checksum_type=checksum_type,
                                part_sizes=tuple(p.size for p in parts))
        change = v.FileChange(op="put", path=path, content=content, meta=meta)
        result = await self._write(repo, branch, lambda ref: self.v.put_files(repo, ref, [change]))
        await self.uploads.delete(record)
        return self._put_result(etag, result)

    async def _concatenate(self, contents: Sequence[v.FileContent]) -> v.FileContent:
        """One file made of the parts' chunks, in order: manifests are joined, no byte is copied.

        Chunk boundaries restart at every part, so the content id differs from a single PUT of the
        same bytes (the chunks themselves are mostly shared: content-defined cuts resynchronize).
        """
        entries: list[tuple[bytes, int]] = []
        for content in contents:
            # A part whose chunk lives in a pack: the joined manifest can only name loose chunks.
            loose = await self.store.loose(content)
            entries += [(ref.digest, ref.length) for ref in await self.store.manifest(loose)]
        packed = manifests.pack(entries)
        size = sum(length for _, length in entries)
        content_id = manifests.content_id(packed)
        if manifests.is_inline(packed):
            return v.FileContent(id=content_id, size=size, chunks=base64.b64encode(packed).decode("ascii"))
        await self.store.put_manifest(content_id, packed)
        return v.FileContent(id=content_id, size=size)

    async def abort_multipart_upload(self, bucket: Bucket, key: str, upload_id: str) -> None:
        await self.uploads.delete(await self._upload(bucket, key, upload_id))
