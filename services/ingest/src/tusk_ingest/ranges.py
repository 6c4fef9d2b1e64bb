"""HTTP byte ranges and entity tags of downloads (RFC 9110 §14, §8.8.3): pure functions, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tusk_common.errors import Invalid
from tusk_common.wire.versioning import FileContent

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Invalid):
    """A well-formed range that selects no byte of the file (HTTP 416)."""

    http_status = 416


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `start`..`end` inclusive of a file of `size` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range a `Range` header asks for; None means the whole file (200).

    Headers in a unit other than `bytes`, or with several ranges, are ignored (a server may always
    answer 200 with the whole file). A syntactically bad `bytes=` header is also ignored, as RFC 9110
    asks. A valid range that selects nothing raises `Unsatisfiable`.
    """
    if not header:
        return None
    m = _RANGE_RE.match(header)
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return ByteRange(max(0, size - n), size - 1, size)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax per RFC 9110: ignore the header
    if start >= size:
        raise _unsatisfiable(header, size)
    return ByteRange(start, min(end, size - 1), size)


def _unsatisfiable(header: str, size: int) -> Unsatisfiable:
    return Unsatisfiable(
        f"range {header!r} selects no byte of a {size}-byte file", field="Range", size=size
    )


def etag(content: FileContent) -> str:
    """A strong entity tag: the MD5 of the bytes when known, else the content id."""
    return f'"{content.md5 or content.id}"'


def none_match(header: str | None, tag: str) -> bool:
    """Whether `If-None-Match` matches `tag` (weak comparison, as RFC 9110 asks for this header)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = (t.strip() for t in header.split(","))
    return any(t.removeprefix("W/") == tag for t in candidates)
