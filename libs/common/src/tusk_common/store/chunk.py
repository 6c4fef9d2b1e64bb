"""One stored chunk: its hash, its key in the object store, and the frame its bytes are kept in.

A stored chunk object is `header (1 byte) + payload`: header 0x00 means the payload is the raw chunk,
0x01 means it is one zstd frame. Every object has the header, whatever the store's compression setting,
so a store can switch compression on or off and still read everything it wrote before.
"""

from __future__ import annotations

import threading

import blake3
import zstandard

from tusk_common.errors import Corrupted

CHUNKS_PREFIX = "chunks/"
MANIFESTS_PREFIX = "manifests/"

HASH_SIZE = 32  # bytes of a BLAKE3 digest; 64 hex chars

RAW = 0x00
ZSTD = 0x01

_local = threading.local()  # zstd contexts are not thread-safe; one pair per worker thread


def chunk_hash(data: bytes | memoryview) -> bytes:
    """The BLAKE3 digest (32 bytes) of a chunk's uncompressed bytes."""
    return blake3.blake3(data).digest()


def chunk_key(hash_hex: str) -> str:
    """Object key of the chunk with this hex hash: `chunks/ab/abcdef…`."""
    return f"{CHUNKS_PREFIX}{hash_hex[:2]}/{hash_hex}"


def manifest_key(content_id: str) -> str:
    """Object key of a manifest too big to travel inline: `manifests/ab/abcdef…`."""
    return f"{MANIFESTS_PREFIX}{content_id[:2]}/{content_id}"


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache: dict[int, zstandard.ZstdCompressor] = _local.__dict__.setdefault("compressors", {})
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(level=level, write_content_size=True)
    return cache[level]


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_local, "decompressor"):
        _local.decompressor = zstandard.ZstdDecompressor()
    return _local.decompressor


def encode(data: bytes | memoryview, *, zstd_level: int | None) -> bytes:
    """The stored object for a chunk; compressed only when zstd is on and it actually shrinks."""
    if zstd_level is not None:
        packed = _compressor(zstd_level).compress(data)
        if len(packed) < len(data):
            return bytes((ZSTD,)) + packed
    return bytes((RAW,)) + data


def frame_raw(data: bytes | memoryview) -> tuple[bytes, bytes | memoryview]:
    """The stored object of a chunk kept raw, as pieces: the header, then the chunk itself (no copy)."""
    return _RAW_HEADER, data


_RAW_HEADER = bytes((RAW,))


def decode(stored: bytes, *, expected: bytes, length: int, content_id: str) -> bytes | memoryview:
    """The chunk bytes of a stored object, verified against their hash and length.

    A raw chunk comes back as a read-only view into `stored` (no copy of the payload). Raises
    `Corrupted` naming the content and the chunk when the object is not what the manifest says.
    """
    if not stored:
        raise Corrupted("stored chunk is empty", content_id=content_id, chunk=expected.hex())
    header, payload = stored[0], memoryview(stored)[1:]
    data: bytes | memoryview
    if header == RAW:
        data = payload
    elif header == ZSTD:
        hex_ = expected.hex()
        try:
            # Check the declared size first: a damaged header must not make us allocate gigabytes.
            if zstandard.frame_content_size(payload) != length:
                raise Corrupted("stored chunk has the wrong size", content_id=content_id, chunk=hex_)
            data = _decompressor().decompress(payload)
        except zstandard.ZstdError as e:
            raise Corrupted(
                f"stored chunk does not decompress: {e}", content_id=content_id, chunk=hex_
            ) from e
    else:
        raise Corrupted(
            f"stored chunk has unknown header {header:#04x}", content_id=content_id, chunk=expected.hex()
        )
    if len(data) != length or chunk_hash(data) != expected:
        raise Corrupted("stored chunk does not match its hash", content_id=content_id, chunk=expected.hex())
    return data


HEAD_BYTES = 32  # enough of a stored chunk for `stored_length`: the header and a zstd frame header


def stored_length(head: bytes, size: int) -> int | None:
    """The chunk length a stored object holds, from its first `HEAD_BYTES` and its size; None when that
    cannot be told without reading it all (a zstd frame that does not state its size, or garbage)."""
    if not head:
        return None
    if head[0] == RAW:
        return size - 1
    if head[0] == ZSTD:
        try:
            n = zstandard.frame_content_size(head[1:])
        except zstandard.ZstdError:
            return None
        return n if n >= 0 else None
    return None
