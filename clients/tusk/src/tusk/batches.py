"""Planning of multi-file uploads: which files share one multipart request, which go alone.

Many small files per request keep the request count low; a big file gets its own streamed `PUT`. Planning
is lazy, so an iterable of a million files is never materialized, and pure, so it is tested without I/O.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tusk_common.errors import Invalid
from tusk_common.naming import normalize_path

MAX_BATCH_FILES = 1000
MAX_BATCH_BYTES = 64 << 20
BIG_FILE_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class Stamp:
    """What `stat` says about a file; equal stamps mean "not changed" (within the racy-mtime rule)."""

    size: int
    mtime_ns: int
    ino: int
    dev: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, st.st_ctime_ns)


@dataclass(frozen=True)
class LocalEntry:
    """One file to upload: its destination path in the repo and its content (bytes or a local file),
    with the local file's stamp when it was listed (for the stat cache)."""

    dest: str
    source: bytes | Path
    size: int
    stamp: Stamp | None = None


@dataclass(frozen=True)
class Batch:
    """Small files sent together in one multipart request."""

    entries: tuple[LocalEntry, ...]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass(frozen=True)
class Single:
    """A big file sent alone with a streamed `PUT`."""

    entry: LocalEntry

    @property
    def size(self) -> int:
        return self.entry.size


Job = Batch | Single


def entries_from(
    files: Iterable[tuple[str, bytes | str | os.PathLike[str]] | LocalEntry],
) -> Iterator[LocalEntry]:
    """`(dest path, bytes or local path)` pairs -> entries; destinations are checked, local files stat'ed.
    Entries (from `walk_dir`) pass through as they are."""
    for item in files:
        if isinstance(item, LocalEntry):
            yield item
            continue
        dest, source = item
        path = normalize_path(dest, allow_root=False)
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            yield LocalEntry(path, data, len(data))
            continue
        local = Path(os.fspath(source))
        st = local.stat()
        if stat.S_ISDIR(st.st_mode):
            raise Invalid(f"{local} is a directory: upload it with put_dir (or `put file -r`)", field="source")
        yield LocalEntry(path, local, st.st_size, Stamp.of(st))


def walk_dir(local_dir: str | os.PathLike[str], dest: str = "/") -> Iterator[LocalEntry]:
    """Every regular file below `local_dir` (symlinks to files followed, symlinks to directories not),
    mapped below `dest`: a directory's files by name, then its subdirectories by name."""
    root = Path(os.fspath(local_dir))
    if not root.is_dir():
        raise Invalid(f"{root} is not a directory", field="local_dir")
    yield from _walk(os.fspath(root), normalize_path(dest).rstrip("/"))


def _walk(directory: str, dest: str) -> Iterator[LocalEntry]:
    # scandir and plain strings: a tree of 10,000 files is listed before the first byte is sent, and
    # building three `Path`s per file cost more than the stat calls.
    try:
        with os.scandir(directory) as listing:
            found = sorted(listing, key=lambda e: e.name)
    except OSError:  # unreadable, or gone meanwhile: skipped, as os.walk does
        return
    subdirs = []
    for entry in found:
        try:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry)
                continue
            st = entry.stat()  # follows a symlink to its file
        except FileNotFoundError:  # a dangling symlink, or removed meanwhile
            continue
        if stat.S_ISREG(st.st_mode):
            yield LocalEntry(normalize_path(f"{dest}/{entry.name}"), Path(entry.path), st.st_size, Stamp.of(st))
    for sub in subdirs:
        yield from _walk(sub.path, f"{dest}/{sub.name}")


def plan(
    entries: Iterable[LocalEntry],
    *,
    max_files: int = MAX_BATCH_FILES,
    max_bytes: int = MAX_BATCH_BYTES,
    big_file: int = BIG_FILE_BYTES,
) -> Iterator[Job]:
    """Group entries into batches of at most `max_files` / `max_bytes`; files >= `big_file` go alone."""
    pending: list[LocalEntry] = []
    pending_bytes = 0
    for entry in entries:
        if entry.size >= big_file:
            yield Single(entry)
            continue
        if pending and (len(pending) >= max_files or pending_bytes + entry.size > max_bytes):
            yield Batch(tuple(pending))
            pending, pending_bytes = [], 0
        pending.append(entry)
        pending_bytes += entry.size
    if pending:
        yield Batch(tuple(pending))
