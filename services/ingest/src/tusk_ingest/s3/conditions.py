"""Ranges and conditional headers of reads and copies, evaluated as S3 does (RFC 9110 order)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from tusk_ingest.s3.driver import ObjectInfo
from tusk_ingest.s3.errors import InvalidArgument, InvalidRange, PreconditionFailed

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `start`..`stop-1` of an object of `size` bytes."""

    start: int
    stop: int
    size: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range of a `Range` header; None means the whole object.

    Like S3: a header that is not one `bytes=` range is ignored; a range that selects no byte is
    InvalidRange (416).
    """
    if not header:
        return None
    m = _RANGE.match(header)
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise InvalidRange(range=header, size=size)
        return ByteRange(max(0, size - n), size, size)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise InvalidRange(range=header, size=size)
    stop = min(int(last) + 1, size) if last else size
    return ByteRange(start, stop, size)


def parse_copy_range(header: str | None, size: int) -> ByteRange:
    """`x-amz-copy-source-range: bytes=first-last`, which must lie inside the source."""
    if header is None:
        return ByteRange(0, size, size)
    m = _RANGE.match(header)
    if m is None or not m.group(1) or not m.group(2) or int(m.group(2)) < int(m.group(1)):
        raise InvalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last "
                              "where first and last are the zero-based offsets of the first and last bytes "
                              "to copy", field="x-amz-copy-source-range")
    first, last = int(m.group(1)), int(m.group(2))
    if last >= size:
        raise InvalidArgument(f"Range specified is not valid for source object of size: {size}",
                              field="x-amz-copy-source-range")
    return ByteRange(first, last + 1, size)


def part_range(info: ObjectInfo, part_number: int) -> ByteRange:
    """The bytes of part N of an object made by multipart upload (a plain object is part 1)."""
    sizes = info.part_sizes or (info.size,)
    if not 1 <= part_number <= len(sizes):
        raise InvalidRange(part_number=part_number, parts=len(sizes))
    start = sum(sizes[: part_number - 1])
    return ByteRange(start, start + sizes[part_number - 1], info.size)


def http_date(when: datetime) -> str:
    return format_datetime(when.replace(microsecond=0), usegmt=True)


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # S3 ignores an unparsable date condition


def _matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    return any(t.strip().removeprefix("W/").strip('"') == etag for t in header.split(","))


def _seconds(when: datetime) -> float:
    return when.replace(microsecond=0).timestamp()


def not_modified(headers: Mapping[str, str], info: ObjectInfo, *, prefix: str = "") -> bool:
    """Evaluates If-Match / If-Unmodified-Since (412) then If-None-Match / If-Modified-Since (True:
    304). With `prefix="x-amz-copy-source-"` the copy-source forms, where both failures are 412."""
    if_match = headers.get(prefix + "If-Match")
    if if_match is not None:
        if not _matches(if_match, info.etag):
            raise PreconditionFailed(condition=prefix + "If-Match")
    else:
        since = _parse_date(headers.get(prefix + "If-Unmodified-Since"))
        if since is not None and _seconds(info.last_modified) > since.timestamp():
            raise PreconditionFailed(condition=prefix + "If-Unmodified-Since")
    if_none_match = headers.get(prefix + "If-None-Match")
    if if_none_match is not None:
        hit = _matches(if_none_match, info.etag)
    else:
        since = _parse_date(headers.get(prefix + "If-Modified-Since"))
        hit = since is not None and _seconds(info.last_modified) <= since.timestamp()
    if hit and prefix:
        raise PreconditionFailed(condition=prefix + ("If-None-Match" if if_none_match else "If-Modified-Since"))
    return hit
