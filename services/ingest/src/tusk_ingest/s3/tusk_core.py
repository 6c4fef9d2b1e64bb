"""`DriverCore`: what every part of `TuskDriver` shares: resolving buckets, reading one file, commit
times, and the one write path (a `PutFiles`/`CopyFile` into a branch or a commit group).

`LastModified` is the time of the commit an object is read at (finished_at; "now" for an open commit):
Tusk keeps no per-file time, since the same bytes written twice are no change.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterable, Awaitable, Callable
from datetime import UTC, datetime

from tusk_common.errors import NotFound
from tusk_common.naming import is_commit_id
from tusk_common.store import ChunkStore
from tusk_common.wire import versioning as v
from tusk_ingest.adapters.versioning import VersioningClient
from tusk_ingest.s3 import errors, tusk_meta
from tusk_ingest.s3.buckets import Bucket, key_path
from tusk_ingest.s3.commit_groups import CommitGroups
from tusk_ingest.s3.driver import BucketInfo, Payload, PutResult, commit_group
from tusk_ingest.s3.tusk_uploads import UploadRecords

_BRANCH_TTL = 5.0  # seconds a branch seen to exist is trusted by writes without asking again
_CACHE = 10_000  # commit times and branch sightings remembered


def utcnow() -> datetime:
    return datetime.now(UTC)


def _only_repo_missing(exc: NotFound) -> bool:
    return "path" not in exc.details and "ref" not in exc.details and "commit" not in exc.details


class DriverCore:
    """State and helpers shared by the bucket, object and multipart operations."""

    def __init__(self, versioning: VersioningClient, store: ChunkStore, uploads: UploadRecords, *,
                 groups: CommitGroups | None = None, max_object_bytes: int | None = None) -> None:
        self.v = versioning
        self.store = store
        self.uploads = uploads
        self.groups = groups
        self.max_object_bytes = max_object_bytes
        self._default_branches: dict[str, str] = {}
        self._branches_seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._commit_times: OrderedDict[str, datetime] = OrderedDict()

    async def head_bucket(self, bucket: Bucket) -> BucketInfo:
        repo = await self._repo(bucket)
        if bucket.branch not in (None, repo.default_branch) and bucket.branch not in repo.branches:
            raise errors.NoSuchBucket(bucket=bucket.name)
        if bucket.commit is not None:
            try:
                await self.v.inspect_commit(repo.name, bucket.commit)
            except NotFound:
                raise errors.NoSuchBucket(f"no commit {bucket.commit} in repo {repo.name}",
                                          bucket=bucket.name) from None
        return BucketInfo(bucket, repo.created_at)

    async def _repo(self, bucket: Bucket) -> v.RepoInfo:
        try:
            repo = await self.v.inspect_repo(bucket.repo)
        except NotFound:
            raise errors.NoSuchBucket(bucket=bucket.name) from None
        self._default_branches[repo.name] = repo.default_branch
        return repo

    async def _branch(self, bucket: Bucket) -> str:
        """The branch a bucket names (a `REPO` bucket: the repo's default branch)."""
        if bucket.branch is not None:
            return bucket.branch
        known = self._default_branches.get(bucket.repo)
        return known if known is not None else (await self._repo(bucket)).default_branch

    async def _writable(self, bucket: Bucket) -> tuple[str, str]:
        """(repo, branch) of a write, NoSuchBucket unless both exist (sightings trusted a few seconds)."""
        branch = await self._branch(bucket)
        seen = self._branches_seen.get((bucket.repo, branch))
        if seen is not None and time.monotonic() - seen < _BRANCH_TTL:
            return bucket.repo, branch
        if bucket.branch is not None and bucket.branch != self._default_branches.get(bucket.repo):
            try:
                await self.v.inspect_branch(bucket.repo, branch)
            except NotFound:
                await self._repo(bucket)  # NoSuchBucket names the repo when it is the repo that is missing
                raise errors.NoSuchBucket(bucket=bucket.name) from None
        self._branches_seen[(bucket.repo, branch)] = time.monotonic()
        self._branches_seen.move_to_end((bucket.repo, branch))
        while len(self._branches_seen) > _CACHE:
            self._branches_seen.popitem(last=False)
        return bucket.repo, branch


    async def _file(self, bucket: Bucket, key: str, version_id: str | None) -> v.FileInfo:
        """The file a key names at the bucket's head (or at the commit `version_id`)."""
        def missing() -> Exception:
            return errors.NoSuchVersion(version_id=version_id) if version_id else errors.NoSuchKey(key=key)

        if version_id is not None and not is_commit_id(version_id):
            raise missing()
        try:
            path = key_path(key)
        except errors.InvalidArgument:
            raise missing() from None
        ref = version_id or bucket.commit or await self._branch(bucket)
        try:
            info = await self.v.inspect_file(bucket.repo, ref, path)
        except NotFound as e:
            if "path" not in e.details:
                await self.head_bucket(bucket)  # NoSuchBucket when it is the bucket that is missing
            raise missing() from None
        if info.type != "file":
            raise missing()
        return info

    async def _time(self, repo: str, commit: str) -> datetime:
        """When a commit finished (cached: finished commits never change); now for an open one."""
        known = self._commit_times.get(commit)
        if known is not None:
            return known
        try:
            info = await self.v.inspect_commit(repo, commit)
        except NotFound:
            return utcnow()
        return self._remember_time(info)

    def _remember_time(self, commit: v.CommitInfo) -> datetime:
        if commit.state != "finished" or commit.finished_at is None:
            return utcnow()
        self._commit_times[commit.id] = commit.finished_at
        while len(self._commit_times) > _CACHE:
            self._commit_times.popitem(last=False)
        return commit.finished_at

    # ---------------------------------------------------------------- writing

    async def _write(self, repo: str, branch: str, do: Callable[[str], Awaitable[v.PutResult]]) -> v.PutResult:
        """One write: into the branch (an atomic commit, or its open commit), or into a commit group."""
        group_ms = commit_group.get()
        try:
            if group_ms is not None and self.groups is not None:
                result = await self.groups.write(repo, branch, group_ms, do)
            else:
                result = await do(branch)
        except NotFound as e:
            if _only_repo_missing(e):
                raise errors.NoSuchBucket(bucket=repo) from None
            raise
        self._remember_time(result.commit)
        return result

    def _put_result(self, etag: str, result: v.PutResult) -> PutResult:
        c = result.commit
        return PutResult(etag, c.id, c.finished_at if c.state == "finished" and c.finished_at else utcnow())

    async def _store_body(self, body: Payload) -> v.FileContent:
        """Store a request body; the chunk store's MD5 is the body's (each byte is MD5-hashed once)."""
        body.defer_md5()
        content = await self._store(body)
        if content.md5 is None:  # pragma: no cover (the writer always hashes what it is given)
            raise RuntimeError("the chunk store returned no MD5 for a body it stored")
        body.settle_md5(content.md5)  # Content-MD5 is checked here, before any commit names the bytes
        return content

    async def _store(self, body: AsyncIterable[bytes | memoryview]) -> v.FileContent:
        """Stream a body into the chunk store; a small one is stored in one step (one thread hop)."""
        pieces = aiter(body)
        head: list[bytes | memoryview] = []
        size = 0
        while size < self.store.settings.chunk_min:
            try:
                piece = await anext(pieces)
            except StopAsyncIteration:
                return await self.store.write_small(b"".join(head))
            head.append(piece)
            size += len(piece)
        async with self.store.writer(max_bytes=self.max_object_bytes) as w:
            for piece in head:
                await w.write(piece)
            async for piece in pieces:
                await w.write(piece)
            return await w.finish()

    async def _check_conditions(self, repo: str, branch: str, key: str, path: str,
                                if_none_match: bool, if_match: str | None) -> None:
        """If-None-Match: * and If-Match, against the key as it is just before the write."""
        if not if_none_match and if_match is None:
            return
        try:
            current: v.FileInfo | None = await self.v.inspect_file(repo, branch, path)
        except NotFound:
            current = None
        if current is not None and current.type != "file":
            current = None
        if if_none_match and current is not None:
            raise errors.PreconditionFailed("the key exists and If-None-Match is *", field="If-None-Match")
        if if_match is not None:
            if current is None:
                raise errors.NoSuchKey(key=key)
            if tusk_meta.etag(current.content, current.meta) != if_match.strip('"'):
                raise errors.PreconditionFailed(field="If-Match")

