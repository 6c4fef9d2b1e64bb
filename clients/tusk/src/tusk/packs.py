"""Small files sent as one pack stream (`POST .../pack`, `tusk_common.wire.bulk`): a batch is read into
memory (at most `MAX_BATCH_BYTES`), so its length is known and it goes out in a few large writes, with no
multipart boundaries to scan for on the server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tusk.batches import LocalEntry, Stamp
from tusk.sources import Progress, TransferCancelled
from tusk_common.wire import bulk

SEND_PIECE = 1 << 20  # small files are joined into pieces of about this size before `sendall`


@dataclass(frozen=True)
class Loaded:
    """A file of a batch, read: its destination, its bytes, and its entry. `stamp` is the file's stamp
    right after the read (None for bytes): equal to the entry's, the bytes are the ones it was listed with."""

    dest: str
    data: bytes
    entry: LocalEntry | None = None
    stamp: Stamp | None = None


def load(entries: Sequence[LocalEntry], cancel: threading.Event | None = None) -> Iterator[Loaded]:
    """Read each entry whole (they are small), in order."""
    for entry in entries:
        if cancel is not None and cancel.is_set():
            raise TransferCancelled("upload cancelled")
        if isinstance(entry.source, bytes):
            yield Loaded(entry.dest, entry.source, entry)
            continue
        data, stamp = _read(os.fspath(entry.source), entry.size)
        yield Loaded(entry.dest, data, entry, stamp)


def _read(path: str, expected: int) -> tuple[bytes, Stamp]:
    """The whole file: one read when it still has the size it was listed with (one more byte is asked
    for, so growth shows), more if it grew; and its stamp after the read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = os.read(fd, expected + 1)
        if len(data) > expected:
            parts = [data]
            while more := os.read(fd, 1 << 20):
                parts.append(more)
            data = b"".join(parts)
        return data, Stamp.of(os.fstat(fd))
    finally:
        os.close(fd)


class Pack:
    """The body of one pack request: its pieces, their total length, and what it holds."""

    def __init__(self, files: Sequence[Loaded]) -> None:
        self.files = len(files)
        self.bytes = sum(len(f.data) for f in files)
        pieces: list[bytes] = [bulk.PACK_MAGIC]
        run: list[bytes] = []
        size = 0
        for f in files:
            run += (bulk.pack_record(f.dest, len(f.data)), f.data)
            size += len(f.data)
            if size >= SEND_PIECE:
                pieces.append(b"".join(run))
                run, size = [], 0
        run.append(bulk.pack_end())
        pieces.append(b"".join(run))
        self.pieces = pieces
        self.length = sum(len(p) for p in pieces)

    def stream(self, progress: Progress | None = None, cancel: threading.Event | None = None) -> Iterator[bytes]:
        for piece in self.pieces:
            if cancel is not None and cancel.is_set():
                raise TransferCancelled("upload cancelled")
            yield piece
        if progress is not None:
            progress(self.bytes)
