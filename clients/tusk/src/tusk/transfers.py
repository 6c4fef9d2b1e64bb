"""Many files at once: batched, parallel uploads into one commit, and parallel recursive downloads."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from tusk import multipart, routes
from tusk.batches import (
    BIG_FILE_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_FILES,
    Batch,
    Job,
    LocalEntry,
    entries_from,
    plan,
    walk_dir,
)
from tusk.files import FileMethods, _write_params
from tusk.results import BatchPutResult, DownloadSummary, UploadSummary
from tusk.session import write_target
from tusk.sources import Progress
from tusk.versioning import _ref, _repo
from tusk_common.errors import Invalid
from tusk_common.naming import normalize_path
from tusk_common.wire.versioning import CommitInfo, FileInfo

T = TypeVar("T")
FileSpec = tuple[str, bytes | str | os.PathLike[str]]


class TransferMethods(FileMethods):
    batch_files: int = MAX_BATCH_FILES
    """Most files in one multipart request."""
    batch_bytes: int = MAX_BATCH_BYTES
    """Most bytes in one multipart request."""
    big_file_bytes: int = BIG_FILE_BYTES
    """Files at least this big are streamed alone with `put_file`."""

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
    ) -> UploadSummary:
        """Upload `(dest path, bytes or local path)` pairs in as few requests as sensible, as one commit.

        Small files share multipart requests (up to 1000 files / 64 MiB each); big files are streamed
        alone. When it takes more than one request and `ref` is a branch without an open commit, a commit
        is started, every request goes into it (`parallel` at a time), and it is finished at the end; on
        any failure it is deleted and the error re-raised, so nothing partial lands.
        """
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
    ) -> UploadSummary:
        """Upload every file below `local_dir` to `dest` in one commit (see `put_files`)."""
        return self._upload(repo, ref, walk_dir(local_dir, dest), append, message, parallel, progress)

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
            size = self.get_file(repo, info.commit, base, target, progress=progress)
            return DownloadSummary(info.commit, 1, size)
        root.mkdir(parents=True, exist_ok=True)
        pinned = info.commit or ref
        totals = [0, 0]
        lock = threading.Lock()

        def fetch(item: FileInfo, cancel: threading.Event) -> None:
            target = _local_target(root, base, item.path)
            size = self.get_file(repo, pinned, item.path, target, progress=progress, _cancel=cancel)
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
    ) -> UploadSummary:
        _repo(repo)
        _ref(ref)
        jobs = plan(
            entries, max_files=self.batch_files, max_bytes=self.batch_bytes, big_file=self.big_file_bytes
        )
        head = list(itertools.islice(jobs, 2))
        if not head:
            return UploadSummary(None, 0, 0, 0)
        if len(head) == 1:  # one request is atomic on its own
            commit = self._send(repo, ref, head[0], append, message, progress, None)
            return UploadSummary(commit, _count(head[0]), head[0].size, 1)
        tally = _Tally()
        with write_target(self, repo, ref, description=message or "") as target:

            def send(job: Job, cancel: threading.Event) -> None:
                commit = self._send(target.repo, target.ref, job, append, None, progress, cancel)
                tally.add(job, commit)

            _run_parallel(itertools.chain(head, jobs), send, parallel)
        return UploadSummary(target.finished or tally.commit, tally.files, tally.bytes, tally.requests)

    def _send(
        self,
        repo: str,
        ref: str,
        job: Job,
        append: bool,
        message: str | None,
        progress: Progress | None,
        cancel: threading.Event | None,
    ) -> CommitInfo:
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


class _Tally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.files = self.bytes = self.requests = 0
        self.commit: CommitInfo | None = None

    def add(self, job: Job, commit: CommitInfo) -> None:
        with self._lock:
            self.files += _count(job)
            self.bytes += job.size
            self.requests += 1
            self.commit = commit


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
