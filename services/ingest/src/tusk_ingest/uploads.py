"""Upload use cases: stream request bytes into the chunk store, then stage them with versioning.

Bytes never sit whole in memory: a single upload feeds a `FileWriter` block by block; a multipart
batch or a pack streams its big files one at a time and stores its small ones in groups (one thread hop
and one `put_many` per group, a few groups at once); chunk manifests name chunks uploaded before. Nothing
is staged until every byte is stored and checked, so an upload that ends early or fails its checksum
leaves no trace in any commit (only unreferenced chunks, which garbage collection removes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from tusk_common import naming
from tusk_common.errors import Invalid, NotFound, TooLarge
from tusk_common.store import ChunkStore
from tusk_common.wire.versioning import CommitInfo, FileChange, FileContent, FileInfo, PutResult
from tusk_ingest.adapters.versioning import VersioningClient
from tusk_ingest.chunks import ChunkUploads
from tusk_ingest.settings import IngestSettings

log = structlog.get_logger(__name__)

ReadChunk = Callable[[int], Awaitable[bytes]]  # returns b"" at the end of the part


@dataclass(frozen=True, slots=True)
class FileTarget:
    """Where a write lands: a repo and a branch or open commit id."""

    repo: str
    ref: str


@dataclass(frozen=True, slots=True)
class PutOutcome:
    commit: CommitInfo
    file: FileInfo
    atomic: bool


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    commit: CommitInfo
    files: int
    bytes: int
    atomic: bool


class Uploads:
    """The write side of the edge: single-file puts, multipart batches, packs and chunk manifests."""

    def __init__(self, versioning: VersioningClient, store: ChunkStore, settings: IngestSettings) -> None:
        self.versioning = versioning
        self.store = store
        self.settings = settings
        self.chunks = ChunkUploads(store)

    # ------------------------------------------------------------------ one file

    async def put_file(
        self,
        target: FileTarget,
        path: str,
        body: AsyncIterable[bytes],
        *,
        declared_length: int | None = None,
        content_md5: bytes | None = None,
        append: bool = False,
        message: str = "",
    ) -> PutOutcome:
        """Store `body` as the file at `path` (or after its current bytes) and stage it in ONE RPC."""
        limit = self.settings.max_upload_bytes
        if declared_length is not None and declared_length > limit:
            raise TooLarge(f"the upload is larger than {limit} bytes", field="Content-Length", limit=limit)
        existing = await self._existing(target, path) if append else None
        digest = hashlib.md5(usedforsecurity=False) if content_md5 is not None and existing else None
        source = _checked(body, declared_length, digest)
        if existing is not None:
            content = await self.store.append(existing, source, max_bytes=limit)
        else:
            content = await self.store.write_stream(source, max_bytes=limit)
        if content_md5 is not None:
            got = digest.digest() if digest is not None else bytes.fromhex(content.md5 or "")
            if got != content_md5:
                raise Invalid(
                    "Content-MD5 does not match the bytes received; nothing was stored",
                    field="Content-MD5", expected=base64.b64encode(content_md5).decode(),
                    received=base64.b64encode(got).decode(),
                )
        result = await self.versioning.put_files(
            target.repo, target.ref, [FileChange(op="put", path=path, content=content)], description=message
        )
        info = FileInfo(path=path, type="file", size=content.size, file_count=1, commit=result.commit.id,
                        content=content)
        return PutOutcome(result.commit, info, result.atomic)

    async def _existing(self, target: FileTarget, path: str) -> FileContent | None:
        try:
            info = await self.versioning.inspect_file(target.repo, target.ref, path)
        except NotFound:
            return None
        if info.type != "file" or info.content is None:
            raise Invalid(f"cannot append to {path!r}: it is a directory", field="path", path=path)
        return info.content

    # ------------------------------------------------------------------ many files, one commit

    async def put_batch(
        self,
        target: FileTarget,
        parts: AsyncIterator[tuple[str, ReadChunk]],
        *,
        append: bool = False,
        message: str = "",
    ) -> BatchOutcome:
        """Store every multipart part, then stage them in `batch_rpc_size` RPCs; all or nothing lands."""

        async def feed(batch: _Batch) -> None:
            small = self.settings.small_file_bytes
            async for path, read in parts:
                head, complete = await _read_upto(read, small)
                if complete:
                    await batch.add_small(path, head[0] if len(head) == 1 else b"".join(head))
                else:
                    await batch.add_stream(path, _chain(head, read, self.settings.upload_block_bytes))

        return await self._batched(target, append, message, feed,
                                   "the multipart body has no file part (a part with a filename)")

    async def put_pack(
        self,
        target: FileTarget,
        records: AsyncIterator[PackRecord],
        *,
        append: bool = False,
        message: str = "",
    ) -> BatchOutcome:
        """Store every file of a pack stream (small ones many at a time), as one commit or nothing."""

        async def feed(batch: _Batch) -> None:
            small = self.settings.small_file_bytes
            async for record in records:
                if record.size <= small:
                    await batch.add_small(record.path, await record.read_all())
                else:
                    await batch.add_stream(record.path, record.blocks(self.settings.upload_block_bytes))

        return await self._batched(target, append, message, feed, "the pack holds no file")

    async def put_manifests(
        self, target: FileTarget, files: list[tuple[str, bytes]], *, message: str = ""
    ) -> BatchOutcome:
        """Files made of chunks already uploaded (path, packed manifest), as one commit or nothing."""
        contents = await self.chunks.files_from_manifests([m for _, m in files])

        async def feed(batch: _Batch) -> None:
            for (path, _), content in zip(files, contents, strict=True):
                await batch.add_content(path, content)

        return await self._batched(target, False, message, feed, "the body names no file")

    async def _batched(
        self, target: FileTarget, append: bool, message: str, feed: Callable[[_Batch], Awaitable[None]],
        empty: str,
    ) -> BatchOutcome:
        batch = _Batch(self, target, append=append, message=message)
        try:
            await feed(batch)
            return await batch.finish(empty)
        except BaseException:
            await asyncio.shield(batch.undo())
            raise

    async def store_part(self, target: FileTarget, path: str, source: AsyncIterable[bytes], *,
                         append: bool) -> FileContent:
        limit = self.settings.max_upload_bytes
        existing = await self._existing(target, path) if append else None
        if existing is not None:
            return await self.store.append(existing, source, max_bytes=limit)
        return await self.store.write_stream(source, max_bytes=limit)


class PackRecord(Protocol):
    """One file of a pack stream: its path, its size, and its bytes (read once, in order)."""

    path: str
    size: int

    async def read_all(self) -> bytes: ...

    def blocks(self, block_size: int) -> AsyncIterator[bytes]: ...


# Small files are stored in groups (one thread hop and one `put_many` per group), a few groups at once.
GROUP_FILES = 256
GROUP_BYTES = 4 * 1024 * 1024
GROUPS_AT_ONCE = 4


@dataclass
class _Batch:
    """One many-file upload in flight: files being stored, changes waiting for their RPC."""

    uploads: Uploads
    target: FileTarget
    append: bool
    message: str
    files: int = 0
    total_bytes: int = 0
    pending: list[FileChange | None] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    group: list[tuple[int, str, bytes]] = field(default_factory=list)
    group_bytes: int = 0
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(GROUPS_AT_ONCE))
    staging_ref: str | None = None  # set once the batch needs more than one RPC
    own_commit: str | None = None  # the commit this batch started (and must finish or delete)
    last: CommitInfo | None = None

    async def add_small(self, path: str, data: bytes) -> None:
        """A file read whole: stored with others of its group (appends go one by one)."""
        index = await self._next_index()
        if self.append:
            await self._store(index, path, _blocks([data]))
            return
        self.group.append((index, path, data))
        self.group_bytes += len(data)
        if len(self.group) >= GROUP_FILES or self.group_bytes >= GROUP_BYTES:
            await self._launch_group()

    async def add_stream(self, path: str, source: AsyncIterable[bytes]) -> None:
        """A big file: streamed into the store before the next file is read."""
        index = await self._next_index()
        await self._store(index, path, source)

    async def add_content(self, path: str, content: FileContent) -> None:
        """A file whose content is stored already."""
        index = await self._next_index()
        self.pending[index] = FileChange(op="put", path=path, content=content)
        self.total_bytes += content.size

    async def finish(self, empty: str) -> BatchOutcome:
        if not self.files:
            raise Invalid(empty, field="body")
        await self._drain()
        if self.staging_ref is None:  # everything fits one RPC: versioning makes it atomic itself
            result = await self._put(self.target.ref)
            return BatchOutcome(result.commit, self.files, self.total_bytes, result.atomic)
        if self.pending:
            await self._flush()
        if self.own_commit is not None:
            commit = await self.uploads.versioning.finish_commit(self.target.repo, self.own_commit)
            self.own_commit = None
            return BatchOutcome(commit, self.files, self.total_bytes, True)
        assert self.last is not None
        return BatchOutcome(self.last, self.files, self.total_bytes, False)

    async def _next_index(self) -> int:
        settings = self.uploads.settings
        self.files += 1
        if self.files > settings.max_batch_files:
            raise TooLarge(f"a batch holds at most {settings.max_batch_files} files", field="body",
                           limit=settings.max_batch_files)
        if len(self.pending) >= settings.batch_rpc_size:
            await self._flush()  # only now is a second RPC certain
        self.pending.append(None)
        return len(self.pending) - 1

    async def _store(self, index: int, path: str, source: AsyncIterable[bytes]) -> None:
        content = await self.uploads.store_part(self.target, path, source, append=self.append)
        self.pending[index] = FileChange(op="put", path=path, content=content)
        self.total_bytes += content.size

    async def _launch_group(self) -> None:
        if not self.group:
            return
        group, self.group, self.group_bytes = self.group, [], 0
        await self.slots.acquire()
        try:
            self._raise_failed()
        except BaseException:
            self.slots.release()
            raise
        self.tasks.add(asyncio.create_task(self._store_group(group)))

    async def _store_group(self, group: list[tuple[int, str, bytes]]) -> None:
        try:
            contents = await self.uploads.store.write_smalls([data for _, _, data in group])
            for (index, path, _), content in zip(group, contents, strict=True):
                # A normalized path and a content the store made: nothing to validate, thousands to build.
                self.pending[index] = FileChange.model_construct(op="put", path=path, content=content)
                self.total_bytes += content.size
        finally:
            self.slots.release()

    def _raise_failed(self) -> None:
        for task in list(self.tasks):
            if task.done():
                self.tasks.discard(task)
                task.result()  # re-raises the group's error

    async def _drain(self) -> None:
        await self._launch_group()
        while self.tasks:
            done, _ = await asyncio.wait(self.tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                self.tasks.discard(task)
                task.result()

    async def _flush(self) -> None:
        await self._drain()
        if self.staging_ref is None:
            self.staging_ref = await self._open_staging()
        await self._put(self.staging_ref)

    async def _put(self, ref: str) -> PutResult:
        changes = [c for c in self.pending if c is not None]
        assert len(changes) == len(self.pending), "a part finished without its change"
        result = await self.uploads.versioning.put_files(
            self.target.repo, ref, changes, description=self.message
        )
        self.pending = []
        self.last = result.commit
        return result

    async def _open_staging(self) -> str:
        """The ref every RPC of a multi-RPC batch stages into, starting a commit when needed."""
        repo, ref = self.target.repo, self.target.ref
        base, ancestors = naming.split_ref(ref)
        if ancestors or naming.is_commit_id(base):
            return ref  # an open commit named by id (versioning refuses anything else)
        branch = await self.uploads.versioning.inspect_branch(repo, base)
        if branch.head is not None:
            head = await self.uploads.versioning.inspect_commit(repo, branch.head)
            if head.state == "open":
                return head.id  # the user's open commit: the batch lands in it, like every write
        commit = await self.uploads.versioning.start_commit(repo, base, description=self.message)
        self.own_commit = commit.id
        log.debug("batch.commit_started", repo=repo, commit=commit.id)
        return commit.id

    async def undo(self) -> None:
        """After a failure: stop storing files and delete the commit this batch started."""
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        if self.own_commit is not None:
            commit, self.own_commit = self.own_commit, None
            try:
                await self.uploads.versioning.delete_commit(self.target.repo, commit)
            except Exception as exc:  # the original failure is what the client must see
                log.error("batch.cleanup_failed", repo=self.target.repo, commit=commit, error=repr(exc))


async def _checked(
    body: AsyncIterable[bytes], declared: int | None, digest: hashlib._Hash | None
) -> AsyncIterator[bytes]:
    """`body`, refusing to end before `declared` bytes (a truncated upload must fail, not store)."""
    received = 0
    async for block in body:
        received += len(block)
        if declared is not None and received > declared:
            raise Invalid(f"the body is longer than Content-Length {declared}", field="Content-Length")
        if digest is not None:
            await asyncio.to_thread(digest.update, block)
        yield block
    if declared is not None and received != declared:
        raise Invalid(
            f"the upload ended after {received} of {declared} bytes; nothing was stored",
            field="body", received=received, expected=declared,
        )


# First reads of a part are small: aiohttp's multipart reader pushes back whatever it read past the
# part's end, so reading 1 MiB per 10 KiB part would copy ~100x the bytes.
PART_PROBE_BYTES = 64 * 1024


async def _read_upto(read: ReadChunk, limit: int) -> tuple[list[bytes], bool]:
    """Up to `limit` + 1 bytes of a part, and whether that was the whole part."""
    blocks: list[bytes] = []
    size = 0
    while size <= limit:
        block = await read(min(PART_PROBE_BYTES, limit + 1 - size))
        if not block:
            return blocks, True
        blocks.append(block)
        size += len(block)
    return blocks, False


async def _blocks(blocks: list[bytes]) -> AsyncIterator[bytes]:
    for block in blocks:
        yield block


async def _chain(head: list[bytes], read: ReadChunk, block_size: int) -> AsyncIterator[bytes]:
    for block in head:
        yield block
    while block := await read(block_size):
        yield block
