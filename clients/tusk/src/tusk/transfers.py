"""Many files at once: batched, parallel uploads into one commit, and parallel recursive downloads."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from tusk import multipart, packs, routes
from tusk.batches import (
    BIG_FILE_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_FILES,
    Batch,
    Job,
    LocalEntry,
    Single,
    Stamp,
    entries_from,
    plan,
    walk_dir,
)
from tusk.files import FileMethods, _write_params
from tusk.remote_index import RemoteIndex
from tusk.results import BatchPutResult, DownloadSummary, UploadSummary
from tusk.session import write_target
from tusk.sources import Progress
from tusk.versioning import _ref, _repo
from tusk_common.errors import Invalid, NotFound
from tusk_common.naming import normalize_path
from tusk_common.wire.bulk import PACK_MEDIA
from tusk_common.wire.versioning import CommitInfo, FileInfo

if TYPE_CHECKING:  # imported when first used: cutting and hashing cost start-up time otherwise
    from tusk.chunked import ChunkedUploads, Chunking
    from tusk.statcache import Known, StatCache

T = TypeVar("T")
FileSpec = tuple[str, bytes | str | os.PathLike[str]] | LocalEntry
PACK_BATCH_BYTES = 16 << 20  # a pack is read into memory whole before it is sent


class TransferMethods(FileMethods):
    batch_files: int = MAX_BATCH_FILES
    """Most files in one multipart request."""
    batch_bytes: int = MAX_BATCH_BYTES
    """Most bytes in one multipart request."""
    big_file_bytes: int = BIG_FILE_BYTES
    """Files at least this big are streamed alone with `put_file`."""
    stat_cache: bool = True
    """Keep what local files hashed to in the per-user stat cache (`tusk.statcache`), so a later upload
    of the same tree reads only the files that changed; `TUSK_STAT_CACHE=0` turns it off too."""

    def put_files(
        self,
        repo: str,
        ref: str,
        files: Iterable[FileSpec],
        *,
        append: bool = False,
        message: str | None = None,
        parallel: int = 4,
        progress: Progress | None = None,
        skip_unchanged: bool = True,
    ) -> UploadSummary:
        """Upload `(dest path, bytes or local path)` pairs in as few requests as sensible, as one commit.

        Small files share pack requests (up to 1000 files / 16 MiB each); big files go through the chunk
        protocol, which sends only the chunks the server lacks. When it takes more than one request and
        `ref` is a branch without an open commit, a commit is started, every request goes into it
        (`parallel` at a time), and it is finished at the end; on any failure it is deleted and the error
        re-raised, so nothing partial lands.

        With `skip_unchanged` (and `files` given as a list, not an iterator), files the commit's base
        already holds with the same content are not sent: the resulting tree is the same.
        """
        if skip_unchanged and isinstance(files, list | tuple):
            listed = list(entries_from(files))
            base = _common_dir([e.dest for e in listed]) if listed else None
            return self._upload(repo, ref, listed, append, message, parallel, progress, base)
        return self._upload(repo, ref, entries_from(files), append, message, parallel, progress)

    def put_dir(
        self,
        repo: str,
        ref: str,
        local_dir: str | os.PathLike[str],
        dest: str = "/",
        *,
        parallel: int = 4,
        append: bool = False,
        message: str | None = None,
        progress: Progress | None = None,
        skip_unchanged: bool = True,
    ) -> UploadSummary:
        """Upload every file below `local_dir` to `dest` in one commit (see `put_files`)."""
        base = normalize_path(dest) if skip_unchanged else None
        return self._upload(repo, ref, walk_dir(local_dir, dest), append, message, parallel, progress, base)

    def get_dir(
        self,
        repo: str,
        ref: str,
        path: str,
        local_dir: str | os.PathLike[str],
        *,
        parallel: int = 4,
        progress: Progress | None = None,
    ) -> DownloadSummary:
        """Download every file below `path` into `local_dir`, `parallel` at a time.

        All files are read from the one commit the listing was taken from, even if the branch moves
        meanwhile. A `path` naming a file is written to `local_dir/<its name>`.
        """
        root = Path(os.fspath(local_dir))
        base = normalize_path(path)
        info = self.inspect_file(repo, ref, base)
        if info.type == "file":
            target = root / PurePosixPath(base).name
            size = self.get_file(repo, info.commit, base, target, progress=progress, parallel=parallel)
            return DownloadSummary(info.commit, 1, size)
        root.mkdir(parents=True, exist_ok=True)
        pinned = info.commit or ref
        totals = [0, 0]
        lock = threading.Lock()

        def fetch(item: FileInfo, cancel: threading.Event) -> None:
            target = _local_target(root, base, item.path)
            # Files already go `parallel` at a time: each one is a single request.
            size = self.get_file(repo, pinned, item.path, target, progress=progress, parallel=1, _cancel=cancel)
            with lock:
                totals[0] += 1
                totals[1] += size

        listing = (f for f in self.list_files(repo, pinned, base, recursive=True) if f.type == "file")
        _run_parallel(listing, fetch, parallel)
        return DownloadSummary(pinned, totals[0], totals[1])

    # ---------------------------------------------------------------- helpers

    def _upload(
        self,
        repo: str,
        ref: str,
        entries: Iterable[LocalEntry],
        append: bool,
        message: str | None,
        parallel: int,
        progress: Progress | None,
        base: str | None = None,
    ) -> UploadSummary:
        _repo(repo)
        _ref(ref)
        params = None if append else self._chunking()
        jobs = plan(
            entries, max_files=self.batch_files,
            max_bytes=self.batch_bytes if params is None else min(self.batch_bytes, PACK_BATCH_BYTES),
            big_file=self.big_file_bytes,
        )
        head = list(itertools.islice(jobs, 2))
        if not head:
            return UploadSummary(None, 0, 0, 0)
        skipping = params is not None and base is not None and self._holds_files(repo, ref, base)
        uploads = None
        cache = None
        if params is not None:
            from tusk.chunked import ChunkedUploads

            uploads = ChunkedUploads(self._t, repo, params)
            cache = self._open_stat_cache(params)
        try:
            if len(head) == 1 and not skipping:  # one request is atomic on its own
                sent = self._send(repo, ref, head[0], append, message, progress, None, uploads, None, cache)
                return UploadSummary(sent.commit, _count(head[0]), head[0].size, 1)
            tally = _Tally()
            with write_target(self, repo, ref, description=message or "") as target:
                # Listed from the commit the writes land in, so skipping leaves exactly the tree a full
                # upload would have made; fetched while the first big files are already being cut.
                index = RemoteIndex(self, target.repo, target.ref, base, parallel) if skipping and base else None
                try:

                    def send(job: Job, cancel: threading.Event) -> None:
                        sent = self._send(target.repo, target.ref, job, append, None, progress, cancel, uploads,
                                          index, cache)  # fmt: skip
                        tally.add(job, sent)

                    _run_parallel(itertools.chain(head, jobs), send, parallel)
                finally:
                    if index is not None:
                        index.close()
        finally:
            if cache is not None:
                cache.close()
        commit = target.finished or tally.commit
        if commit is None:  # nothing needed sending into someone else's open commit
            commit = self.inspect_commit(repo, target.ref)
        return UploadSummary(commit, tally.files, tally.bytes, tally.requests, tally.unchanged)

    def _chunking(self) -> Chunking | None:
        """The server's chunk parameters (asked once per client); None: it predates packs and chunks."""
        if not hasattr(self, "_chunking_cache"):
            from tusk.chunked import chunking

            self._chunking_cache = chunking(self._t)
        return self._chunking_cache

    def _open_stat_cache(self, params: Chunking) -> StatCache | None:
        if not self.stat_cache:
            return None
        from tusk.statcache import StatCache, default_path

        path = default_path()
        cache = StatCache(path, params.key) if path is not None else None
        return cache if cache is not None and cache.enabled else None

    def _holds_files(self, repo: str, ref: str, base: str) -> bool:
        try:
            info = self.inspect_file(repo, ref, base)
        except NotFound:
            return False
        return info.type == "dir" and info.file_count > 0

    def _send(
        self,
        repo: str,
        ref: str,
        job: Job,
        append: bool,
        message: str | None,
        progress: Progress | None,
        cancel: threading.Event | None,
        uploads: ChunkedUploads | None = None,
        index: RemoteIndex | None = None,
        cache: StatCache | None = None,
    ) -> _Sent:
        if uploads is None:
            return _Sent(self._send_legacy(repo, ref, job, append, message, progress, cancel))
        if isinstance(job, Batch):
            remote = index.get() if index is not None else {}
            return self._send_pack(repo, ref, job, message, progress, cancel, uploads, remote, cache)
        entry = job.entry
        if not isinstance(entry.source, Path):  # bytes held in memory: one streamed PUT
            return _Sent(self._send_legacy(repo, ref, job, append, message, progress, cancel))
        # Ask which chunks the server lacks only for a new version of a file it has (an edit shares
        # most of them); a file new to it goes up whole without a round trip per window.
        previous = index.previous(entry.dest) if index is not None else None
        known = _cached(cache, [job]).get(entry.dest)
        if previous is not None and known is not None and previous == (entry.size, known.content_id):
            if progress is not None:
                progress(entry.size)
            return _Sent(None, unchanged=1)  # unchanged since it was hashed, and the target holds it
        started = time.time_ns()
        manifest = uploads.upload(entry.source, progress, cancel, ask=previous is not None)
        if cache is not None and entry.stamp is not None and _stamp(entry.source) == entry.stamp:
            from tusk.statcache import Known

            cache.record(_key(entry), entry.stamp, Known(manifest.content_id, manifest.packed), started)
        if previous == (manifest.size, manifest.content_id):
            return _Sent(None, unchanged=1)
        reply = uploads.commit(ref, [(entry.dest, manifest)], message)
        return _Sent(BatchPutResult.model_validate(reply).commit)

    def _send_pack(
        self,
        repo: str,
        ref: str,
        batch: Batch,
        message: str | None,
        progress: Progress | None,
        cancel: threading.Event | None,
        uploads: ChunkedUploads,
        remote: dict[str, tuple[int, str]],
        cache: StatCache | None = None,
    ) -> _Sent:
        entries: list[LocalEntry] = list(batch.entries)
        unchanged = 0
        known = _cached(cache, entries)
        if remote and known:  # unchanged since they were hashed, and the target holds them: not even read
            same = {e.dest for e in entries
                    if e.dest in known and remote.get(e.dest) == (e.size, known[e.dest].content_id)}  # fmt: skip
            if same:
                if progress is not None:
                    progress(sum(e.size for e in entries if e.dest in same))
                entries = [e for e in entries if e.dest not in same]
                unchanged = len(same)
                if not entries:
                    return _Sent(None, unchanged=unchanged)
        started = time.time_ns()
        files = list(packs.load(entries, cancel))
        later: list[packs.Loaded] = []  # hashed for the stat cache once the pack is sent, off its path
        if remote or cache is not None:
            from tusk.statcache import Known
            from tusk_common.store.manifest import content_id

            def cacheable(f: packs.Loaded) -> bool:  # read as it was listed, and not known already
                return cache is not None and f.entry is not None and f.stamp == f.entry.stamp \
                    and f.stamp is not None and f.dest not in known  # fmt: skip

            def record(f: packs.Loaded, manifest: bytes, cid: str) -> None:
                assert cache is not None and f.entry is not None and f.entry.stamp is not None
                cache.record(_key(f.entry, cwd), f.entry.stamp, Known(cid, manifest), started)

            def held(f: packs.Loaded) -> bool:  # hash only what the target holds with the same size
                there = remote.get(f.dest)
                if there is None or there[0] != len(f.data):
                    if cacheable(f):
                        later.append(f)
                    return False
                manifest = uploads.manifest_of(f.data)
                cid = content_id(manifest)
                if cacheable(f):
                    record(f, manifest, cid)
                return there[1] == cid

            cwd = os.getcwd()
            changed = [f for f in files if not held(f)]
            if progress is not None and len(changed) < len(files):
                progress(sum(len(f.data) for f in files) - sum(len(f.data) for f in changed))
            unchanged, files = unchanged + len(files) - len(changed), changed
            if not files:
                return _Sent(None, unchanged=unchanged)
        sent = self._post_pack(repo, ref, files, message, progress, cancel, unchanged)
        for f in later:
            manifest = uploads.manifest_of(f.data)
            record(f, manifest, content_id(manifest))
        return sent

    def _post_pack(
        self,
        repo: str,
        ref: str,
        files: list[packs.Loaded],
        message: str | None,
        progress: Progress | None,
        cancel: threading.Event | None,
        unchanged: int,
    ) -> _Sent:
        pack = packs.Pack(files)
        url = routes.pack(repo, ref)
        params = _write_params(False, message)
        headers = {"Content-Type": PACK_MEDIA}
        if self._t.bulk is not None:
            reply = self._t.bulk.send("POST", url, pack.stream(progress, cancel), pack.length,
                                      params=params, headers=headers)
            result = BatchPutResult.model_validate_json(reply.body)
        else:
            response = self._t.request("POST", url, params=params, content=b"".join(pack.stream(progress, cancel)),
                                       headers=headers)
            result = BatchPutResult.model_validate(response.json())
        return _Sent(result.commit, unchanged=unchanged)

    def _send_legacy(
        self,
        repo: str,
        ref: str,
        job: Job,
        append: bool,
        message: str | None,
        progress: Progress | None,
        cancel: threading.Event | None,
    ) -> CommitInfo:
        """Multipart batches and streamed PUTs: what every server understands."""
        if not isinstance(job, Batch):
            entry = job.entry
            result = self.put_file(
                repo, ref, entry.dest, entry.source, append=append, message=message,
                progress=progress, _cancel=cancel,
            )
            return result.commit
        boundary = multipart.new_boundary()
        response = self._t.request(
            "POST",
            routes.files(repo, ref),
            params=_write_params(append, message),
            content=multipart.encode(job.entries, boundary, progress=progress, cancel=cancel),
            headers={"Content-Type": multipart.content_type(boundary)},
        )
        return BatchPutResult.model_validate(response.json()).commit


@dataclass(frozen=True)
class _Sent:
    """What one request did: the commit it wrote to (None if nothing needed sending)."""

    commit: CommitInfo | None
    unchanged: int = 0


def _common_dir(paths: list[str]) -> str:
    """The deepest directory holding every path (all absolute and normalized)."""
    # Character-wise, then cut back to the last "/": every string ends in "/", so that is a whole component.
    prefix = os.path.commonprefix([p.rpartition("/")[0] + "/" for p in paths])  # noqa: RUF071
    return normalize_path(prefix[: prefix.rfind("/") + 1] or "/")


class _Tally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.files = self.bytes = self.requests = self.unchanged = 0
        self.commit: CommitInfo | None = None

    def add(self, job: Job, sent: _Sent) -> None:
        with self._lock:
            self.files += _count(job)
            self.bytes += job.size
            self.unchanged += sent.unchanged
            if sent.commit is not None:
                self.requests += 1
                self.commit = sent.commit


def _key(entry: LocalEntry, cwd: str | None = None) -> str:
    """The stat cache's key of a local file: its absolute path (not normalized: another spelling of
    the same path only misses; the stamp's device and inode still name one file)."""
    assert isinstance(entry.source, Path)  # only local files are cached
    path = os.fspath(entry.source)
    return path if path.startswith("/") else os.path.join(cwd or os.getcwd(), path)


def _stamp(path: Path) -> Stamp | None:
    try:
        return Stamp.of(os.stat(path))
    except OSError:
        return None


def _cached(cache: StatCache | None, items: Sequence[LocalEntry | Single]) -> dict[str, Known]:
    """dest -> what the stat cache says each local file hashed to (only files unchanged since)."""
    if cache is None:
        return {}
    entries = [i.entry if isinstance(i, Single) else i for i in items]
    cwd = os.getcwd()
    keyed = {_key(e, cwd): e for e in entries if isinstance(e.source, Path) and e.stamp is not None}
    found = cache.lookup([(k, e.stamp) for k, e in keyed.items() if e.stamp is not None])
    return {keyed[k].dest: v for k, v in found.items()}


def _count(job: Job) -> int:
    return len(job.entries) if isinstance(job, Batch) else 1


def _local_target(root: Path, base: str, remote: str) -> Path:
    rel = PurePosixPath(remote).relative_to(PurePosixPath(base))
    if any(part in ("", ".", "..") for part in rel.parts) or not rel.parts:
        raise Invalid(f"refusing to write {remote!r} outside {root}", field="path")
    return root.joinpath(*rel.parts)


def _run_parallel(items: Iterable[T], work: Callable[[T, threading.Event], Any], parallel: int) -> None:
    """Run `work` on every item with at most `parallel` in flight; the first failure stops the rest.

    Items are pulled lazily (at most 2 x `parallel` queued), so a huge iterable is never materialized.
    On a failure or an interrupt, queued work is cancelled and running work sees `cancel` set at its next
    chunk, so this returns (by raising) promptly.
    """
    parallel = max(1, parallel)
    cancel = threading.Event()
    pending: set[Future[Any]] = set()
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="tusk-transfer")
    try:
        for item in items:
            if len(pending) >= 2 * parallel:
                pending = _reap(pending, FIRST_COMPLETED)
            pending.add(pool.submit(work, item, cancel))
        while pending:
            pending = _reap(pending, FIRST_COMPLETED)
    except BaseException:
        cancel.set()
        for future in pending:
            future.cancel()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _reap(pending: set[Future[Any]], when: str) -> set[Future[Any]]:
    done, rest = wait(pending, return_when=when)
    for future in done:
        future.result()  # re-raise the first failure in the caller's thread
    return rest
