"""`TuskDriver`: the S3 `Driver` port over the versioning service (NATS RPC) and the chunk store.

Buckets are repos and branches, keys are file paths, versions are commit ids. Bytes stream into the
chunk store before versioning hears of them, so a write that fails (bad digest, client gone) stores
nothing but unreferenced chunks. Each write is one `PutFiles` or `CopyFile`: one atomic commit, or a
change staged into the branch's open commit (read-your-writes either way); `x-tusk-commit-group`
writes go through `CommitGroups`. Multipart uploads (`tusk_multipart`) keep their state in the object
store, so the ingest stays stateless. Shared helpers: `tusk_core`; listings: `tusk_listing`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence

from tusk_common.errors import AlreadyExists, NotFound
from tusk_common.wire import versioning as v
from tusk_ingest.s3 import errors, tusk_meta
from tusk_ingest.s3.buckets import Bucket
from tusk_ingest.s3.driver import (
    BucketInfo,
    CommonPrefix,
    DeleteResult,
    ObjectInfo,
    ObjectMeta,
    ObjectStream,
    ObjectSummary,
    ObjectVersion,
    Payload,
    PutResult,
    order_versions,
)
from tusk_ingest.s3.tusk_core import key_path, utcnow
from tusk_ingest.s3.tusk_listing import TreeLister, history_versions
from tusk_ingest.s3.tusk_multipart import MultipartOps

_INSPECT_CONCURRENCY = 32  # keys of one DeleteObjects looked up at once


class TuskDriver(MultipartOps):
    """Versioned repos behind the S3 protocol layer; see the module docstring."""

    # ---------------------------------------------------------------- buckets

    async def list_buckets(self) -> Sequence[BucketInfo]:
        """`REPO` for each repo, `BRANCH.REPO` for each other branch (dated by the repo's creation)."""
        out = []
        for repo in sorted((await self.v.list_repos()).repos, key=lambda r: r.name):
            out.append(BucketInfo(Bucket(repo.name), repo.created_at))
            out += [BucketInfo(Bucket(repo.name, b), repo.created_at)
                    for b in sorted(repo.branches) if b != repo.default_branch]
        return out

    async def create_bucket(self, bucket: Bucket) -> BucketInfo:
        try:
            repo = await self.v.create_repo(bucket.repo)
            created = True
        except AlreadyExists:
            if bucket.branch is None:
                raise errors.BucketAlreadyOwnedByYou(bucket=bucket.name) from None
            repo, created = await self._repo(bucket), False
        self._default_branches[repo.name] = repo.default_branch
        if bucket.branch is None or bucket.branch == repo.default_branch:
            if not created:
                raise errors.BucketAlreadyOwnedByYou(bucket=bucket.name)
            return BucketInfo(bucket, repo.created_at)
        if bucket.branch in repo.branches:
            raise errors.BucketAlreadyOwnedByYou(bucket=bucket.name)
        branch = await self.v.create_branch(bucket.repo, bucket.branch, await self._fork_point(repo))
        return BucketInfo(bucket, branch.created_at)

    async def _fork_point(self, repo: v.RepoInfo) -> str | None:
        """Where a new branch starts: the default branch's last finished commit."""
        try:
            head = (await self.v.inspect_branch(repo.name, repo.default_branch)).head
            if head is None:
                return None
            commit = await self.v.inspect_commit(repo.name, head)
        except NotFound:
            return None
        return commit.id if commit.state == "finished" else commit.parent

    async def delete_bucket(self, bucket: Bucket) -> None:
        repo = await self._repo(bucket)
        branch = bucket.branch or repo.default_branch
        if branch not in repo.branches and branch != repo.default_branch:
            raise errors.NoSuchBucket(bucket=bucket.name)
        self._branches_seen.pop((repo.name, branch), None)
        if len(repo.branches) > 1:
            if branch == repo.default_branch:
                raise errors.BucketNotEmpty("the default branch cannot be deleted while other branches exist",
                                            bucket=bucket.name)
            await self.v.delete_branch(repo.name, branch)
            return
        if not await self._empty(repo.name, branch):
            raise errors.BucketNotEmpty(bucket=bucket.name)
        await self.v.delete_repo(repo.name)
        self._default_branches.pop(repo.name, None)

    async def _empty(self, repo: str, branch: str) -> bool:
        try:
            return not (await self.v.list_files(repo, branch, "/", limit=1)).files
        except NotFound:
            return True  # no such branch row, or no commit yet

    # ---------------------------------------------------------------- reading

    async def list_objects(
        self, bucket: Bucket, *, prefix: str = "", delimiter: str | None = None, start_after: str = "",
        limit: int | None = None,
    ) -> AsyncIterator[ObjectSummary | CommonPrefix]:
        commit = await self._listing_commit(bucket)
        if commit is None:
            return
        when = await self._time(bucket.repo, commit)
        lister = TreeLister(self.v, bucket.repo, commit, rollup=delimiter == "/", last_modified=when, hint=limit)
        if delimiter in (None, "/"):
            async for item in lister.keys(prefix, start_after):
                yield item
            return
        current = None  # any other delimiter: roll keys up as they stream by, in order
        async for item in lister.keys(prefix, start_after):
            assert isinstance(item, ObjectSummary)
            cut = item.key.find(delimiter, len(prefix))
            if cut < 0:
                yield item
                continue
            common = item.key[: cut + len(delimiter)]
            if common != current:
                current = common
                if common > start_after:
                    yield CommonPrefix(common)

    async def _listing_commit(self, bucket: Bucket) -> str | None:
        """The commit a listing reads (resolved once, so its pages agree); None for an empty branch."""
        if bucket.commit is not None:
            await self.head_bucket(bucket)
            return bucket.commit
        branch = await self._branch(bucket)
        try:
            return (await self.v.inspect_branch(bucket.repo, branch)).head
        except NotFound:
            await self.head_bucket(bucket)  # NoSuchBucket, unless it is a default branch with no row
            return None

    async def list_object_versions(
        self, bucket: Bucket, *, prefix: str = "", delimiter: str | None = None,
        key_marker: str = "", version_id_marker: str = "",
    ) -> AsyncIterator[ObjectVersion | CommonPrefix]:
        await self.head_bucket(bucket)
        history = await history_versions(self.v, bucket.repo, await self._branch(bucket), prefix)
        for item in order_versions(history, prefix, delimiter, key_marker, version_id_marker):
            yield item

    async def head_object(self, bucket: Bucket, key: str, *, version_id: str | None = None) -> ObjectInfo:
        info = await self._file(bucket, key, version_id)
        return tusk_meta.object_info(key, info, await self._time(bucket.repo, info.commit))

    async def get_object(self, bucket: Bucket, key: str, *, version_id: str | None = None) -> ObjectStream:
        info = await self._file(bucket, key, version_id)
        content = info.content or v.FileContent(id="", size=0)
        store = self.store

        async def read(start: int, stop: int) -> AsyncIterator[bytes | memoryview]:
            if stop > start:
                async for block in store.read(content, start, stop - start):
                    yield block

        return ObjectStream(tusk_meta.object_info(key, info, await self._time(bucket.repo, info.commit)), read)

    async def put_object(
        self, bucket: Bucket, key: str, body: Payload, meta: ObjectMeta, *,
        if_none_match: bool = False, if_match: str | None = None,
    ) -> PutResult:
        if key.endswith("/"):  # a folder marker stores nothing: directories exist through their files
            data = b"".join([piece async for piece in body])
            if not data:
                await self._writable(bucket)
                return PutResult(body.md5_hex, None, utcnow())
        path = key_path(key)
        repo, branch = await self._writable(bucket)
        content = await self._store_body(body)
        await self._check_conditions(repo, branch, key, path, if_none_match, if_match)
        change = v.FileChange(op="put", path=path, content=content,
                              meta=tusk_meta.encode(meta, checksums=body.checksums) or None)
        result = await self._write(repo, branch, lambda ref: self.v.put_files(repo, ref, [change]))
        return self._put_result(body.md5_hex, result)

    async def copy_object(
        self, src: Bucket, src_key: str, dst: Bucket, dst_key: str, *,
        src_version_id: str | None = None, meta: ObjectMeta | None = None,
    ) -> PutResult:
        source = await self._file(src, src_key, src_version_id)
        path = key_path(dst_key)
        repo, branch = await self._writable(dst)
        if meta is None:  # the entry is copied by reference, metadata and all: no byte moves

            def do(ref: str) -> Awaitable[v.PutResult]:
                return self.v.copy_file(src_repo=src.repo, src_ref=source.commit, src_path="/" + src_key,
                                        dst_repo=repo, dst_ref=ref, dst_path=path)
        else:  # same content, new metadata (the gateway's own keys, ETag and checksums, stay)
            stored = {**tusk_meta.system_part(source.meta), **tusk_meta.encode(meta)}
            change = v.FileChange(op="put", path=path, content=source.content, meta=stored or None)

            def do(ref: str) -> Awaitable[v.PutResult]:
                return self.v.put_files(repo, ref, [change])

        result = await self._write(repo, branch, do)
        return self._put_result(tusk_meta.etag(source.content, source.meta), result)

    async def delete_object(self, bucket: Bucket, key: str) -> DeleteResult:
        return (await self.delete_objects(bucket, [key]))[0]

    async def delete_objects(self, bucket: Bucket, keys: Sequence[str]) -> Sequence[DeleteResult]:
        repo, branch = await self._writable(bucket)
        for _ in range(3):  # a key deleted by someone else between the look-up and the write: look again
            present = await self._existing(repo, branch, keys)
            if not present:
                return [DeleteResult(k, None) for k in keys]
            changes = [v.FileChange(op="delete", path="/" + k) for k in present]
            try:

                async def delete_them(ref: str, c: list[v.FileChange] = changes) -> v.PutResult:
                    return await self.v.put_files(repo, ref, c)

                result = await self._write(repo, branch, delete_them)
            except NotFound as e:
                if "path" in e.details:
                    continue
                raise
            return [DeleteResult(k, result.commit.id if k in present else None) for k in keys]
        raise errors.OperationAborted("the keys kept changing while being deleted; try again")

    async def _existing(self, repo: str, branch: str, keys: Sequence[str]) -> dict[str, None]:
        """The keys that are files now (a directory of that name is not the key: it is not deleted)."""
        slots = asyncio.Semaphore(_INSPECT_CONCURRENCY)

        async def is_file(key: str) -> bool:
            try:
                path = key_path(key)
            except errors.InvalidArgument:
                return False
            async with slots:
                try:
                    return (await self.v.inspect_file(repo, branch, path)).type == "file"
                except NotFound:
                    return False

        found = await asyncio.gather(*(is_file(k) for k in dict.fromkeys(keys)))
        return dict.fromkeys(k for k, ok in zip(dict.fromkeys(keys), found, strict=True) if ok)
