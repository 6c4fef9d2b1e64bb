"""`MemoryDriver`: the `Driver` port over in-memory repos, branches and commits, for protocol tests.

It keeps Tusk's semantics, not a plain key-value store's: repos have branches, every write outside an
open commit is one new commit (a snapshot), version ids are commit ids, a commit bucket reads the
snapshot, files and directories cannot share a path, and keys must be canonical file paths.
"""

from __future__ import annotations

import bisect
import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from tusk_common.errors import Conflict
from tusk_ingest.s3 import errors
from tusk_ingest.s3.buckets import Bucket, key_path
from tusk_ingest.s3.driver import (
    BucketInfo,
    CommonPrefix,
    DeleteResult,
    ObjectInfo,
    ObjectMeta,
    ObjectStream,
    ObjectSummary,
    ObjectVersion,
    PartInfo,
    Payload,
    PutResult,
    UploadInfo,
    order_versions,
)

DEFAULT_BRANCH = "master"
_READ_PIECE = 256 * 1024


@dataclass(frozen=True, slots=True)
class _Object:
    data: bytes
    info: ObjectInfo


@dataclass(slots=True)
class _Commit:
    id: str
    parent: _Commit | None
    files: dict[str, _Object]
    at: datetime


@dataclass(slots=True)
class _Branch:
    name: str
    head: _Commit | None
    created: datetime
    open: bool = False  # the head is an open commit: writes land in it


@dataclass(slots=True)
class _Repo:
    name: str
    created: datetime
    default_branch: str = DEFAULT_BRANCH
    branches: dict[str, _Branch] = field(default_factory=dict)
    commits: dict[str, _Commit] = field(default_factory=dict)


@dataclass(slots=True)
class _Part:
    data: bytes
    info: PartInfo


@dataclass(slots=True)
class _Upload:
    info: UploadInfo
    repo: str
    branch: str
    parts: dict[int, _Part] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)



class MemoryDriver:
    """Repos, branches and commits in a dict; every method keeps the `Driver` contract."""

    def __init__(self) -> None:
        self._repos: dict[str, _Repo] = {}
        self._uploads: dict[str, _Upload] = {}

    # ---------------------------------------------------------------- commits (test helpers)

    def start_commit(self, repo: str, branch: str | None = None) -> str:
        """Opens a commit on the branch: writes land in it until `finish_commit`."""
        b = self._branch(Bucket(repo, branch))
        head = self._new_commit(self._repos[repo], b, dict(b.head.files) if b.head else {})
        b.open = True
        return head.id

    def finish_commit(self, repo: str, branch: str | None = None) -> None:
        self._branch(Bucket(repo, branch)).open = False

    def commits(self, repo: str, branch: str | None = None) -> list[str]:
        """Commit ids of the branch, newest first."""
        out, c = [], self._branch(Bucket(repo, branch)).head
        while c is not None:
            out.append(c.id)
            c = c.parent
        return out

    # ---------------------------------------------------------------- buckets

    async def list_buckets(self) -> Sequence[BucketInfo]:
        out = []
        for repo in sorted(self._repos.values(), key=lambda r: r.name):
            out.append(BucketInfo(Bucket(repo.name), repo.created))
            for b in sorted(repo.branches.values(), key=lambda b: b.name):
                if b.name != repo.default_branch:
                    out.append(BucketInfo(Bucket(repo.name, b.name), b.created))
        return out

    async def create_bucket(self, bucket: Bucket) -> BucketInfo:
        repo = self._repos.get(bucket.repo)
        if bucket.branch is None or repo is None:
            if repo is not None:
                raise errors.BucketAlreadyOwnedByYou(bucket=bucket.name)
            repo = _Repo(bucket.repo, _now())
            repo.branches[repo.default_branch] = _Branch(repo.default_branch, None, repo.created)
            self._repos[repo.name] = repo
            if bucket.branch is None or bucket.branch == repo.default_branch:
                return BucketInfo(bucket, repo.created)
        if bucket.branch in repo.branches:
            raise errors.BucketAlreadyOwnedByYou(bucket=bucket.name)
        base = repo.branches.get(repo.default_branch)
        branch = _Branch(bucket.branch, base.head if base else None, _now())
        repo.branches[branch.name] = branch
        return BucketInfo(bucket, branch.created)

    async def delete_bucket(self, bucket: Bucket) -> None:
        repo = self._repo(bucket)
        branch = self._branch(bucket)
        if len(repo.branches) > 1:
            if branch.name == repo.default_branch:
                raise errors.BucketNotEmpty("the default branch cannot be deleted while other branches exist",
                                            bucket=bucket.name)
            del repo.branches[branch.name]
            return
        if branch.head is not None and branch.head.files:
            raise errors.BucketNotEmpty(bucket=bucket.name)
        del self._repos[repo.name]

    async def head_bucket(self, bucket: Bucket) -> BucketInfo:
        repo = self._repo(bucket)
        b = self._branch(bucket)
        self._snapshot(bucket)
        return BucketInfo(bucket, b.created if bucket.branch else repo.created)

    # ---------------------------------------------------------------- reading

    async def list_objects(
        self, bucket: Bucket, *, prefix: str = "", delimiter: str | None = None, start_after: str = "",
        limit: int | None = None,
    ) -> AsyncIterator[ObjectSummary | CommonPrefix]:
        files = self._snapshot(bucket)
        keys = sorted(files)
        i = max(bisect.bisect_right(keys, start_after) if start_after else 0, bisect.bisect_left(keys, prefix))
        while i < len(keys):
            key = keys[i]
            if not key.startswith(prefix):
                break
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = key[: cut + len(delimiter or "")]
                if common > start_after:
                    yield CommonPrefix(common)
                i = bisect.bisect_left(keys, common + "\U0010ffff")
                continue
            info = files[key].info
            yield ObjectSummary(key, info.size, info.etag, info.last_modified)
            i += 1

    async def list_object_versions(
        self, bucket: Bucket, *, prefix: str = "", delimiter: str | None = None,
        key_marker: str = "", version_id_marker: str = "",
    ) -> AsyncIterator[ObjectVersion | CommonPrefix]:
        history: dict[str, list[ObjectVersion]] = {}
        commit = self._head(bucket)
        while commit is not None:
            parent_files = commit.parent.files if commit.parent else {}
            for key in set(commit.files) | set(parent_files):
                now, before = commit.files.get(key), parent_files.get(key)
                if now is before:
                    continue
                versions = history.setdefault(key, [])
                if now is None:
                    versions.append(ObjectVersion(key, commit.id, not versions, commit.at, delete_marker=True))
                else:
                    versions.append(ObjectVersion(key, commit.id, not versions, now.info.last_modified,
                                                  now.info.size, now.info.etag))
            commit = commit.parent
        mine = {k: vs for k, vs in history.items() if k.startswith(prefix)}
        for item in order_versions(mine, prefix, delimiter, key_marker, version_id_marker):
            yield item

    async def head_object(self, bucket: Bucket, key: str, *, version_id: str | None = None) -> ObjectInfo:
        return self._object(bucket, key, version_id).info

    async def get_object(self, bucket: Bucket, key: str, *, version_id: str | None = None) -> ObjectStream:
        obj = self._object(bucket, key, version_id)

        async def read(start: int, stop: int) -> AsyncIterator[bytes]:
            for at in range(start, stop, _READ_PIECE):
                yield obj.data[at: min(stop, at + _READ_PIECE)]

        return ObjectStream(obj.info, read)

    # ---------------------------------------------------------------- writing

    async def put_object(
        self, bucket: Bucket, key: str, body: Payload, meta: ObjectMeta, *,
        if_none_match: bool = False, if_match: str | None = None,
    ) -> PutResult:
        data = b"".join([piece async for piece in body])  # raises before anything is stored
        if key.endswith("/") and not data:
            self._branch(bucket)
            return PutResult(body.md5_hex, None, _now())
        key_path(key)
        files = self._snapshot(bucket)
        self._check_conditions(files.get(key), if_none_match, if_match)
        info = ObjectInfo(key, len(data), body.md5_hex, _now(), meta=meta,
                          checksums=dict(body.checksums))
        return self._write(bucket, {key: _Object(data, info)})

    async def copy_object(
        self, src: Bucket, src_key: str, dst: Bucket, dst_key: str, *,
        src_version_id: str | None = None, meta: ObjectMeta | None = None,
    ) -> PutResult:
        source = self._object(src, src_key, src_version_id)
        key_path(dst_key)
        info = replace(source.info, key=dst_key, last_modified=_now(),
                       meta=source.info.meta if meta is None else meta)
        return self._write(dst, {dst_key: _Object(source.data, info)})

    async def delete_object(self, bucket: Bucket, key: str) -> DeleteResult:
        return (await self.delete_objects(bucket, [key]))[0]

    async def delete_objects(self, bucket: Bucket, keys: Sequence[str]) -> Sequence[DeleteResult]:
        files = self._snapshot(bucket)
        present = [k for k in keys if k in files]
        if not present:
            return [DeleteResult(k, None) for k in keys]
        result = self._write(bucket, dict.fromkeys(present))
        return [DeleteResult(k, result.version_id if k in files else None) for k in keys]

    # ---------------------------------------------------------------- multipart

    async def create_multipart_upload(
        self, bucket: Bucket, key: str, meta: ObjectMeta, *,
        checksum_algorithm: str | None = None, checksum_type: str | None = None,
    ) -> UploadInfo:
        branch = self._branch(bucket)
        key_path(key)
        info = UploadInfo(bucket, key, uuid.uuid4().hex, _now(), meta, checksum_algorithm, checksum_type)
        self._uploads[info.upload_id] = _Upload(info, bucket.repo, branch.name)
        return info

    async def upload_part(
        self, bucket: Bucket, key: str, upload_id: str, part_number: int, body: Payload
    ) -> PartInfo:
        upload = self._upload(bucket, key, upload_id)
        data = b"".join([piece async for piece in body])
        info = PartInfo(part_number, len(data), body.md5_hex, _now(), dict(body.checksums))
        upload.parts[part_number] = _Part(data, info)
        return info

    async def upload_part_copy(
        self, bucket: Bucket, key: str, upload_id: str, part_number: int, *,
        src: Bucket, src_key: str, src_version_id: str | None, start: int, stop: int,
    ) -> PartInfo:
        upload = self._upload(bucket, key, upload_id)
        data = self._object(src, src_key, src_version_id).data[start:stop]
        info = PartInfo(part_number, len(data), hashlib.md5(data, usedforsecurity=False).hexdigest(), _now())
        upload.parts[part_number] = _Part(data, info)
        return info

    async def inspect_upload(self, bucket: Bucket, key: str, upload_id: str) -> UploadInfo:
        return self._upload(bucket, key, upload_id).info

    async def list_parts(
        self, bucket: Bucket, key: str, upload_id: str, *, after: int = 0
    ) -> AsyncIterator[PartInfo]:
        upload = self._upload(bucket, key, upload_id)
        for number in sorted(n for n in upload.parts if n > after):
            yield upload.parts[number].info

    async def list_uploads(
        self, bucket: Bucket, *, prefix: str = "", key_marker: str = "", upload_id_marker: str = ""
    ) -> AsyncIterator[UploadInfo]:
        branch = self._branch(bucket)
        mine = sorted(
            (u.info for u in self._uploads.values()
             if u.repo == bucket.repo and u.branch == branch.name and u.info.key.startswith(prefix)),
            key=lambda i: (i.key, i.initiated, i.upload_id),
        )
        for info in mine:
            if info.key < key_marker or (info.key == key_marker and (
                    not upload_id_marker or info.upload_id <= upload_id_marker)):
                continue
            yield info

    async def complete_multipart_upload(
        self, bucket: Bucket, key: str, upload_id: str, part_numbers: Sequence[int], *,
        etag: str, checksums: Mapping[str, str], checksum_type: str | None = None,
        if_none_match: bool = False, if_match: str | None = None,
    ) -> PutResult:
        upload = self._upload(bucket, key, upload_id)
        missing = [n for n in part_numbers if n not in upload.parts]
        if missing:
            raise errors.InvalidPart(part=missing[0])
        self._check_conditions(self._snapshot(bucket).get(key), if_none_match, if_match)
        parts = [upload.parts[n] for n in part_numbers]
        info = ObjectInfo(key, sum(p.info.size for p in parts), etag, _now(), meta=upload.info.meta,
                          checksums=dict(checksums), checksum_type=checksum_type,
                          part_sizes=tuple(p.info.size for p in parts))
        result = self._write(bucket, {key: _Object(b"".join(p.data for p in parts), info)})
        del self._uploads[upload_id]
        return result

    async def abort_multipart_upload(self, bucket: Bucket, key: str, upload_id: str) -> None:
        self._upload(bucket, key, upload_id)
        del self._uploads[upload_id]

    # ---------------------------------------------------------------- internals

    def _repo(self, bucket: Bucket) -> _Repo:
        repo = self._repos.get(bucket.repo)
        if repo is None:
            raise errors.NoSuchBucket(bucket=bucket.name)
        return repo

    def _branch(self, bucket: Bucket) -> _Branch:
        repo = self._repo(bucket)
        branch = repo.branches.get(bucket.branch or repo.default_branch)
        if branch is None:
            raise errors.NoSuchBucket(bucket=bucket.name)
        return branch

    def _head(self, bucket: Bucket) -> _Commit | None:
        head = self._branch(bucket).head
        if bucket.commit is None:
            return head
        c = head
        while c is not None and c.id != bucket.commit:
            c = c.parent
        if c is None:
            raise errors.NoSuchBucket(f"commit {bucket.commit} is not on branch {bucket.branch}",
                                      bucket=bucket.name)
        return c

    def _snapshot(self, bucket: Bucket, version_id: str | None = None) -> dict[str, _Object]:
        if version_id is not None:
            commit = self._repo(bucket).commits.get(version_id)
            if commit is None:
                raise errors.NoSuchVersion(version_id=version_id)
            return commit.files
        head = self._head(bucket)
        return head.files if head is not None else {}

    def _object(self, bucket: Bucket, key: str, version_id: str | None) -> _Object:
        obj = self._snapshot(bucket, version_id).get(key)
        if obj is None:
            raise errors.NoSuchVersion(version_id=version_id) if version_id else errors.NoSuchKey(key=key)
        return obj

    def _upload(self, bucket: Bucket, key: str, upload_id: str) -> _Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.repo != bucket.repo or upload.info.key != key \
                or upload.branch != self._branch(bucket).name:
            raise errors.NoSuchUpload(upload_id=upload_id)
        return upload

    @staticmethod
    def _check_conditions(current: _Object | None, if_none_match: bool, if_match: str | None) -> None:
        if if_none_match and current is not None:
            raise errors.PreconditionFailed("the key exists and If-None-Match is *", field="If-None-Match")
        if if_match is not None and (current is None or current.info.etag != if_match.strip('"')):
            if current is None:
                raise errors.NoSuchKey()
            raise errors.PreconditionFailed(field="If-Match")

    def _new_commit(self, repo: _Repo, branch: _Branch, files: dict[str, _Object]) -> _Commit:
        commit = _Commit(uuid.uuid4().hex, branch.head, files, _now())
        repo.commits[commit.id] = commit
        branch.head = commit
        return commit

    def _write(self, bucket: Bucket, changes: Mapping[str, _Object | None]) -> PutResult:
        """One atomic change: a new commit, or into the open one. None deletes a key."""
        repo, branch = self._repo(bucket), self._branch(bucket)
        files = dict(branch.head.files) if branch.head else {}
        for key, obj in changes.items():
            if obj is None:
                files.pop(key, None)
                continue
            _check_no_collision(files, key)
            files[key] = obj
        if branch.open and branch.head is not None:
            commit = branch.head
            commit.files = files
        else:
            commit = self._new_commit(repo, branch, files)
        for key, obj in changes.items():
            if obj is not None:
                files[key] = _Object(obj.data, replace(obj.info, version_id=commit.id))
        return PutResult(next((o.info.etag for o in changes.values() if o), ""), commit.id, commit.at)


def _check_no_collision(files: Mapping[str, object], key: str) -> None:
    """A file cannot sit where a directory is, nor below another file (a tree, not a key space)."""
    parts = key.split("/")
    for i in range(1, len(parts)):
        if "/".join(parts[:i]) in files:
            raise Conflict(f"{'/'.join(parts[:i])} is a file, so it cannot hold {key}", path=key)
    below = key + "/"
    if any(k.startswith(below) for k in files):
        raise Conflict(f"{key} is a directory: a file cannot replace it", path=key)
