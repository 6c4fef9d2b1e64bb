"""Binary bodies of the bulk REST endpoints: file packs (many files, one stream) and chunk frames.

Both are length-prefixed streams with a 4-byte magic and an explicit end record, so a body cut short
anywhere, even between two records, is recognised as truncated (and stores nothing), and a parser needs
no more Python per record than reading its fixed header. Integers are big-endian.

    pack   = b"TPK1" record* u32(0xFFFFFFFF)
    record = u32 path_len, path (UTF-8), u64 size, size bytes

    chunks = b"TCK1" frame* (32 zero bytes, u32 0)
    frame  = BLAKE3 digest (32 bytes), u32 length, length bytes
"""

from __future__ import annotations

import struct

PACK_MEDIA = "application/x-tusk-pack"
PACK_MAGIC = b"TPK1"
PACK_PATH = struct.Struct(">I")  # path length, or PACK_END
PACK_SIZE = struct.Struct(">Q")
PACK_END = 0xFFFF_FFFF
MAX_PATH_BYTES = 4096

CHUNKS_MEDIA = "application/x-tusk-chunks"
CHUNKS_MAGIC = b"TCK1"
FRAME = struct.Struct(">32sI")  # digest, length
FRAME_END = bytes(32)  # the digest of the end frame (its length is 0)


def pack_record(path: str, size: int) -> bytes:
    """The header of one file of a pack; its `size` bytes follow it."""
    raw = path.encode()
    return PACK_PATH.pack(len(raw)) + raw + PACK_SIZE.pack(size)


def pack_end() -> bytes:
    return PACK_PATH.pack(PACK_END)


def frame_header(digest: bytes, length: int) -> bytes:
    """The header of one chunk frame; its `length` bytes follow it."""
    return FRAME.pack(digest, length)


def frames_end() -> bytes:
    return FRAME.pack(FRAME_END, 0)
