"""A streamed `multipart/form-data` body for the batch upload endpoint (`POST .../files`).

Each part is one file; its `filename` is the file's absolute path in the repo. Paths that are not plain
ASCII (or hold `"`, `\\`, `%`, `;` or control characters) are sent fully percent-encoded (`/` too) in both
`filename` and the RFC 5987 `filename*=UTF-8''...` parameter; servers (aiohttp's `BodyPartReader.filename`,
python-multipart) prefer `filename*` when present, so they see the path decoded.
Part contents are read from disk chunk by chunk while the request is sent.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from urllib.parse import quote

from tusk.batches import LocalEntry
from tusk.sources import CHUNK, Progress, TransferCancelled

_PLAIN = re.compile(r"^[\x20-\x7e]*$")
_UNSAFE = set('"\\%;')


def new_boundary() -> str:
    return f"tusk-{secrets.token_hex(16)}"


def content_type(boundary: str) -> str:
    return f"multipart/form-data; boundary={boundary}"


def disposition(path: str) -> str:
    if _PLAIN.match(path) and not _UNSAFE.intersection(path):
        return f'form-data; name="file"; filename="{path}"'
    encoded = quote(path, safe="")  # RFC 5987 attr-chars exclude "/" too
    return f"form-data; name=\"file\"; filename=\"{encoded}\"; filename*=UTF-8''{encoded}"


def encode(
    entries: Sequence[LocalEntry],
    boundary: str,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[bytes]:
    """Yield the body: each entry as a part, its content read lazily from bytes or from its local file."""
    for entry in entries:
        head = (
            f"--{boundary}\r\n"
            f"Content-Disposition: {disposition(entry.dest)}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        yield head.encode()
        for chunk in _content(entry):
            if cancel is not None and cancel.is_set():
                raise TransferCancelled("upload cancelled")
            if progress is not None:
                progress(len(chunk))
            yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def _content(entry: LocalEntry) -> Iterator[bytes]:
    if isinstance(entry.source, bytes):
        if entry.source:
            yield entry.source
        return
    with open(os.fspath(entry.source), "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk
