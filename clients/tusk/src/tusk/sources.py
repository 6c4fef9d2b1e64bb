"""What `put_file` accepts as content, turned into a streamed request body.

A source is bytes, a local path (`str` or `os.PathLike`), a binary file object, or an iterable of bytes.
Files and iterables are read in `CHUNK`-sized pieces while the request is sent, so no source is ever held
in memory whole. The size is sent as `Content-Length` when it is known (bytes, regular files), otherwise the
body goes out chunked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Union, cast

CHUNK = 1 << 20

Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes], Iterable[bytes]]
"""Content for an upload: bytes, a local path, a binary file object, or an iterable of bytes."""

Progress = Callable[[int], None]
"""Called with the number of bytes just transferred (an increment), from any thread."""


class TransferCancelled(Exception):
    """A transfer stopped because a sibling transfer failed or the user interrupted."""


@dataclass
class Body:
    """A request body ready to send: either whole bytes or a one-shot iterator of chunks."""

    content: bytes | Iterator[bytes]
    size: int | None
    md5: str | None = None  # base64, for the Content-MD5 header; only when computed for free

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/octet-stream"}
        if self.size is not None:
            headers["Content-Length"] = str(self.size)
        if self.md5 is not None:
            headers["Content-MD5"] = self.md5
        return headers


def is_path(source: object) -> bool:
    return isinstance(source, str | os.PathLike)


@contextmanager
def open_source(
    source: Source,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[Body]:
    """Open `source` (a path is opened here, so a missing file fails before any request)."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        if progress is None and cancel is None:
            yield Body(data, len(data), md5)
        else:
            yield Body(_watched(_slices(data), progress, cancel), len(data), md5)
        return
    if is_path(source):
        with open(os.fspath(source), "rb") as fh:  # type: ignore[arg-type]
            yield Body(_watched(read_chunks(fh), progress, cancel), _remaining_size(fh))
        return
    if hasattr(source, "read"):
        fh = cast(IO[bytes], source)  # a caller's file object: read it, never close it
        yield Body(_watched(read_chunks(fh), progress, cancel), _remaining_size(fh))
        return
    if isinstance(source, Iterable):
        yield Body(_watched(iter(source), progress, cancel), None)
        return
    raise TypeError(f"cannot upload a {type(source).__name__}: pass bytes, a path, a file or an iterable of bytes")


def read_chunks(fh: IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk


def _slices(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), CHUNK):
        yield bytes(view[start : start + CHUNK])


def _watched(
    chunks: Iterator[Any], progress: Progress | None, cancel: threading.Event | None
) -> Iterator[bytes]:
    for chunk in chunks:
        if cancel is not None and cancel.is_set():
            raise TransferCancelled("upload cancelled")
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"an upload iterable must yield bytes, not {type(chunk).__name__}")
        if progress is not None and chunk:
            progress(len(chunk))
        yield bytes(chunk)


def _remaining_size(fh: Any) -> int | None:
    """Bytes left in a regular file from its current position; None for pipes, sockets, streams."""
    try:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        return max(st.st_size - fh.tell(), 0)
    except (AttributeError, OSError, ValueError):
        return None
