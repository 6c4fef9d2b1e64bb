"""Single-file operations: streamed put and get, stat, listings, glob, diff, delete, copy."""

from __future__ import annotations

import functools
import http.client
import io
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tusk import routes
from tusk.bulk import Cancelled, RangesIgnored
from tusk.results import FilePutResult
from tusk.sources import Progress, Source, TransferCancelled, is_path, open_source
from tusk.versioning import VersioningMethods, _ref, _repo
from tusk_common.errors import Conflict, Invalid
from tusk_common.naming import normalize_path
from tusk_common.wire.versioning import DiffEntry, DiffList, FileInfo, FileList, PutResult

Dest = str | os.PathLike[str] | IO[bytes]
"""Where a download goes: a local path (written atomically) or a binary file object."""

RANGED_MIN_BYTES = 16 << 20
"""Downloads to a path at least this big are fetched as parallel ranged requests."""
RANGED_MIN_PIECE = 8 << 20
RANGED_MAX_PIECE = 64 << 20


class FileMethods(VersioningMethods):
    # ------------------------------------------------------------------ write

    def put_file(
        self,
        repo: str,
        ref: str,
        path: str,
        source: Source,
        *,
        append: bool = False,
        message: str | None = None,
        progress: Progress | None = None,
        _cancel: threading.Event | None = None,
    ) -> FilePutResult:
        """Upload one file, streamed from bytes, a local path, a binary file object or an iterable of bytes.

        Into an open commit (or a branch whose head is open) the file is staged; otherwise the request is
        one atomic commit, described by `message`.
        """
        url = routes.files(_repo(repo), _ref(ref), normalize_path(path, allow_root=False))
        params = _write_params(append, message)
        if self._t.bulk is not None and is_path(source):
            with open(os.fspath(source), "rb") as fh:  # type: ignore[arg-type]  # a path: is_path said so
                size = _regular_size(fh)
                if size is not None:
                    try:
                        reply = self._t.bulk.upload_file(
                            "PUT", url, fh, size, params=params,
                            headers={"Content-Type": "application/octet-stream"},
                            progress=progress, cancel=_cancel,
                        )
                    except Cancelled as exc:
                        raise TransferCancelled(str(exc)) from exc
                    return FilePutResult.model_validate_json(reply.body)
        with open_source(source, progress=progress, cancel=_cancel) as body:
            response = self._t.request("PUT", url, params=params, content=body.content, headers=body.headers())
        return FilePutResult.model_validate(response.json())

    def delete_file(self, repo: str, ref: str, path: str) -> PutResult:
        """Delete a file, or a directory with everything below it."""
        url = routes.files(_repo(repo), _ref(ref), normalize_path(path, allow_root=False))
        return PutResult.model_validate(self._t.json("DELETE", url))

    def copy_file(
        self, src_repo: str, src_ref: str, src_path: str, dst_repo: str, dst_ref: str, dst_path: str
    ) -> PutResult:
        """Copy a file or directory by reference (no bytes move), possibly across repos."""
        body = {
            "src_repo": _repo(src_repo),
            "src_ref": _ref(src_ref),
            "src_path": normalize_path(src_path, field="src_path"),
            "dst_path": normalize_path(dst_path, field="dst_path"),
        }
        url = routes.copy(_repo(dst_repo), _ref(dst_ref))
        return PutResult.model_validate(self._t.json("POST", url, json=body))

    # ------------------------------------------------------------------- read

    def get_file(
        self,
        repo: str,
        ref: str,
        path: str,
        dest: Dest,
        *,
        offset: int = 0,
        length: int | None = None,
        progress: Progress | None = None,
        parallel: int = 4,
        _cancel: threading.Event | None = None,
    ) -> int:
        """Download a file (or `length` bytes from `offset`) into `dest`; returns the bytes written.

        A path destination is written to a temporary file beside it and renamed into place when complete,
        so an interrupted download never leaves a partial file. A big file goes to a path as `parallel`
        ranged requests at once, all pinned to the one commit and content the first look found.
        """
        if isinstance(dest, str | os.PathLike):
            return self._get_to_path(
                repo, ref, path, Path(os.fspath(dest)), offset, length, progress, _cancel, parallel
            )
        written = 0
        for chunk in self.iter_file(repo, ref, path, offset=offset, length=length):
            if _cancel is not None and _cancel.is_set():
                raise TransferCancelled("download cancelled")
            dest.write(chunk)
            written += len(chunk)
            if progress is not None:
                progress(len(chunk))
        return written

    def read_file(self, repo: str, ref: str, path: str, *, offset: int = 0, length: int | None = None) -> bytes:
        """A whole file (or a byte range of it) in memory; use `get_file` for big files."""
        buf = io.BytesIO()
        self.get_file(repo, ref, path, buf, offset=offset, length=length)
        return buf.getvalue()

    def iter_file(
        self, repo: str, ref: str, path: str, *, offset: int = 0, length: int | None = None
    ) -> Iterator[bytes]:
        """The file's bytes (or a range of them) as they arrive."""
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must not be negative")
        url = routes.files(_repo(repo), _ref(ref), normalize_path(path, allow_root=False))
        if length == 0:
            self.inspect_file(repo, ref, path)  # still fail for a missing file
            return
        headers: dict[str, str] = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{end}"
        with self._t.stream("GET", url, headers=headers) as response:
            # A server may ignore Range and send the whole file (200): cut the range out here.
            skip = offset if response.status_code == 200 else 0
            left = length if response.status_code == 200 else None
            for chunk in response.iter_bytes():  # pieces as they arrive: re-chunking would copy them
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                if left is not None:
                    chunk, left = chunk[:left], left - min(left, len(chunk))
                if chunk:
                    yield chunk
                if left == 0:
                    return

    def inspect_file(self, repo: str, ref: str, path: str) -> FileInfo:
        """Type, size and content id of a file or directory."""
        return FileInfo.model_validate(self._t.json("GET", routes.stat(_repo(repo), _ref(ref), path)))

    def list_files(
        self, repo: str, ref: str, path: str = "/", *, recursive: bool = False, page_size: int = 1000
    ) -> Iterator[FileInfo]:
        """The entries of directory `path` (with `recursive`, every file below it), page by page."""
        params = {"recursive": "true"} if recursive else {}
        url = routes.tree(_repo(repo), _ref(ref), path)
        return self._pages(url, params, FileList, "files", page_size)

    def glob_files(self, repo: str, ref: str, pattern: str, *, page_size: int = 1000) -> Iterator[FileInfo]:
        """Files and directories matching a glob (`/*.csv`, `/**.png`), page by page."""
        if not pattern.startswith("/"):
            pattern = "/" + pattern
        url = routes.glob(_repo(repo), _ref(ref))
        return self._pages(url, {"pattern": pattern}, FileList, "files", page_size)

    def diff_files(
        self,
        repo: str,
        ref: str,
        path: str = "/",
        *,
        base: str | None = None,
        base_repo: str | None = None,
        page_size: int = 1000,
    ) -> Iterator[DiffEntry]:
        """Changes below `path` between `base` (default: the parent of `ref`) and `ref`.

        `base_repo` may only name `repo` itself: the REST API (`?base=REF`) compares within one repo.
        """
        params: dict[str, Any] = {"path": normalize_path(path)}
        if base is not None:
            params["base"] = _ref(base)
        if base_repo is not None and base_repo != repo:
            raise Invalid(
                f"cannot diff {repo} against {base_repo}: both sides must be in the same repo",
                field="base_repo",
            )
        url = routes.diff(_repo(repo), _ref(ref))
        return self._pages(url, params, DiffList, "changes", page_size)

    # --------------------------------------------------------------- helpers

    def _get_to_path(
        self,
        repo: str,
        ref: str,
        path: str,
        target: Path,
        offset: int,
        length: int | None,
        progress: Progress | None,
        cancel: threading.Event | None,
        parallel: int,
    ) -> int:
        try:
            special = not stat.S_ISREG(os.stat(target).st_mode)
        except FileNotFoundError:
            special = False
        if special:  # /dev/null, a pipe: write into it (renaming a file over it would replace it)
            with open(target, "wb") as fh:
                return self.get_file(
                    repo, ref, path, fh, offset=offset, length=length, progress=progress, _cancel=cancel
                )
        target.parent.mkdir(parents=True, exist_ok=True)
        ranged = self._ranged_plan(repo, ref, path, offset, length, parallel)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            written = None
            if ranged is not None:
                try:
                    written = self._get_ranged(ranged, fd, progress, cancel, parallel)
                except RangesIgnored:  # a proxy or server without ranges: one plain request then
                    os.ftruncate(fd, 0)
            if written is None:
                with os.fdopen(fd, "wb", closefd=False) as fh:
                    written = self.get_file(
                        repo, ref, path, fh, offset=offset, length=length, progress=progress, _cancel=cancel
                    )
            os.close(fd)
            fd = -1
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            Path(tmp).unlink(missing_ok=True)
            raise
        return written

    def _ranged_plan(
        self, repo: str, ref: str, path: str, offset: int, length: int | None, parallel: int
    ) -> _Ranged | None:
        """How to fetch a big file as parallel ranged requests; None: one plain request is as good."""
        if self._t.bulk is None or parallel < 2:
            return None
        info = self.inspect_file(repo, ref, path)
        if info.type != "file" or info.content is None or offset > info.size:
            return None  # the plain request reports it (a directory, a range past the end)
        end = info.size if length is None else min(info.size, offset + length)
        if end - offset < RANGED_MIN_BYTES:
            return None
        # Pinned to the commit the look found, and checked to be that content on every reply.
        url = routes.files(_repo(repo), info.commit, normalize_path(path, allow_root=False))
        return _Ranged(url, offset, end - offset, info.content.id)

    def _get_ranged(
        self, plan: _Ranged, fd: int, progress: Progress | None, cancel: threading.Event | None, parallel: int
    ) -> int:
        assert self._t.bulk is not None

        def same_content(response: http.client.HTTPResponse) -> None:
            got = response.getheader("X-Tusk-Content-Id")
            if got != plan.content_id:
                raise Conflict(
                    f"the file changed during the download (content {got}, expected {plan.content_id})",
                    content_id=plan.content_id,
                )

        piece = max(RANGED_MIN_PIECE, min(RANGED_MAX_PIECE, -(-plan.length // (2 * parallel))))
        try:
            return self._t.bulk.download(
                plan.url, fd, start=plan.start, length=plan.length, headers={}, check=same_content,
                parallel=parallel, progress=progress, cancel=cancel, piece=piece,
            )
        except Cancelled as exc:
            raise TransferCancelled(str(exc)) from exc


@dataclass(frozen=True)
class _Ranged:
    url: str
    start: int
    length: int
    content_id: str


def _regular_size(fh: IO[bytes]) -> int | None:
    """Bytes left in a regular file from its position; None for anything sendfile cannot stream."""
    st = os.fstat(fh.fileno())
    return max(st.st_size - fh.tell(), 0) if stat.S_ISREG(st.st_mode) else None


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_params(append: bool, message: str | None) -> dict[str, str]:
    params = {}
    if append:
        params["append"] = "true"
    if message:
        params["message"] = message
    return params
