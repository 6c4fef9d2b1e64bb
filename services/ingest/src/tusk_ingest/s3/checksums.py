"""S3 flexible checksums (`x-amz-checksum-*`), Content-MD5, ETags and multipart composites.

Values travel as base64 of the big-endian digest. CRC32 comes from zlib; CRC32C and CRC64NVME (and
combining CRCs for FULL_OBJECT multipart checksums) from `awscrt`, loaded on first use so the rest of
the gateway works without it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from tusk_ingest.s3.errors import InvalidArgument, InvalidDigest, InvalidRequest, Unsupported

ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
CRC_ALGORITHMS = frozenset({"crc32", "crc32c", "crc64nvme"})
_SIZES = {"crc32": 4, "crc32c": 4, "crc64nvme": 8, "sha1": 20, "sha256": 32}
HEADER_PREFIX = "x-amz-checksum-"


class Checksum(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...


class _Crc:
    """A running CRC: `fn(data, previous) -> int`, rendered big-endian in `size` bytes."""

    def __init__(self, fn: Any, size: int) -> None:
        self._fn, self._size, self.value = fn, size, 0

    def update(self, data: bytes | memoryview, /) -> None:
        if data:
            self.value = self._fn(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self._size, "big")


def _crt() -> Any:
    try:
        import awscrt.checksums as crt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise Unsupported("CRC32C and CRC64NVME checksums need the 'awscrt' package") from e
    return crt


def new(algorithm: str) -> Checksum:
    """A streaming calculator for one of `ALGORITHMS`."""
    if algorithm == "crc32":
        return _Crc(zlib.crc32, 4)
    if algorithm == "crc32c":
        return _Crc(_crt().crc32c, 4)
    if algorithm == "crc64nvme":
        return _Crc(_crt().crc64nvme, 8)
    if algorithm == "sha1":
        return hashlib.sha1(usedforsecurity=False)
    if algorithm == "sha256":
        return hashlib.sha256()
    raise InvalidArgument(f"checksum algorithm {algorithm!r} is not supported", field="checksum")


def compute(algorithm: str, data: bytes) -> str:
    """The base64 checksum of `data` (for tests and small documents)."""
    c = new(algorithm)
    c.update(data)
    return b64(c.digest())


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def parse_algorithm(value: str) -> str:
    """`CRC32`, `crc64nvme`, ... as named in `x-amz-checksum-algorithm` and XML."""
    alg = value.strip().lower()
    if alg not in _SIZES:
        raise InvalidRequest(f"Checksum algorithm {value!r} is not supported", field="checksum")
    return alg


def header_name(algorithm: str) -> str:
    return HEADER_PREFIX + algorithm


def xml_name(algorithm: str) -> str:
    """`ChecksumCRC32`, `ChecksumCRC64NVME`, ... as in response documents."""
    return "Checksum" + algorithm.upper()


def decode_value(algorithm: str, value: str) -> bytes:
    """The digest a header or trailer value carries; wrong base64 or size is `InvalidRequest`."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidRequest(f"Value for {header_name(algorithm)} header is invalid.") from e
    if len(raw) != _SIZES[algorithm]:
        raise InvalidRequest(f"Value for {header_name(algorithm)} header is invalid.")
    return raw


def from_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The `x-amz-checksum-ALG: value` pairs a request carries, validated, by algorithm."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        lname = name.lower()
        if not lname.startswith(HEADER_PREFIX):
            continue
        alg = lname[len(HEADER_PREFIX):]
        if alg in ("type", "mode", "algorithm"):
            continue
        if alg not in _SIZES:
            raise InvalidRequest(f"Checksum algorithm {alg!r} is not supported", field="checksum")
        decode_value(alg, value)
        found[alg] = value.strip()
    if len(found) > 1:
        raise InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are "
                             "not allowed.")
    return found


def content_md5(value: str | None) -> bytes | None:
    """The 16-byte digest of a `Content-MD5` header; malformed is `InvalidDigest`."""
    if value is None:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidDigest() from e
    if len(raw) != 16:
        raise InvalidDigest()
    return raw


def multipart_etag(part_etags: Sequence[str]) -> str:
    """`md5(concat(binary part MD5s))-N`, as S3 names a completed multipart object."""
    h = hashlib.md5(usedforsecurity=False)
    for tag in part_etags:
        tag = tag.strip('"')
        try:
            h.update(bytes.fromhex(tag))
        except ValueError:  # a driver tag that is not an MD5 still gives a stable result
            h.update(hashlib.md5(tag.encode(), usedforsecurity=False).digest())
    return f"{h.hexdigest()}-{len(part_etags)}"


def composite(algorithm: str, part_values: Sequence[str]) -> str:
    """COMPOSITE multipart checksum: the checksum of the concatenated part digests, `-N` suffixed."""
    c = new(algorithm)
    for value in part_values:
        c.update(decode_value(algorithm, value))
    return f"{b64(c.digest())}-{len(part_values)}"


def full_object(algorithm: str, parts: Iterable[tuple[str, int]]) -> str:
    """FULL_OBJECT multipart checksum: the CRC of the whole object, combined from (part CRC, size)."""
    if algorithm not in CRC_ALGORITHMS:
        raise InvalidRequest(f"The FULL_OBJECT checksum type is not supported for {algorithm}")
    crt = _crt()
    combine = {"crc32": crt.combine_crc32, "crc32c": crt.combine_crc32c,
               "crc64nvme": crt.combine_crc64nvme}[algorithm]
    total: int | None = None
    for value, size in parts:
        crc = int.from_bytes(decode_value(algorithm, value), "big")
        total = crc if total is None else combine(total, crc, size)
    return b64((total or 0).to_bytes(_SIZES[algorithm], "big"))


def default_type(algorithm: str) -> str:
    """The multipart checksum type S3 uses when the client names none."""
    return "FULL_OBJECT" if algorithm == "crc64nvme" else "COMPOSITE"


def parse_type(value: str | None, algorithm: str | None) -> str | None:
    if value is None:
        return default_type(algorithm) if algorithm else None
    kind = value.strip().upper()
    if kind not in ("COMPOSITE", "FULL_OBJECT"):
        raise InvalidRequest(f"Value for x-amz-checksum-type header is invalid: {value!r}")
    if algorithm is None:
        raise InvalidRequest("The x-amz-checksum-type header can only be used with the "
                             "x-amz-checksum-algorithm header.")
    if kind == "FULL_OBJECT" and algorithm not in CRC_ALGORITHMS:
        raise InvalidRequest(f"The FULL_OBJECT checksum type is not supported for {algorithm}")
    if kind == "COMPOSITE" and algorithm == "crc64nvme":
        raise InvalidRequest("The COMPOSITE checksum type is not supported for crc64nvme")
    return kind
