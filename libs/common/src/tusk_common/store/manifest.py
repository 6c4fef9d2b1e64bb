"""The manifest of a file: its ordered chunks, packed as 36-byte entries (BLAKE3 digest, u32 length).

A file's content id is the hex BLAKE3 of its packed manifest, so equal bytes chunked with equal
parameters have equal ids. The empty file has the empty manifest and the id `blake3(b"")`.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Iterable
from dataclasses import dataclass

import blake3

from tusk_common.errors import Corrupted
from tusk_common.store.chunk import HASH_SIZE
from tusk_common.wire.versioning import FileContent

ENTRY = struct.Struct(f">{HASH_SIZE}sI")
INLINE_MAX_ENTRIES = 64  # above this the manifest is an object of its own, not base64 in FileContent


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """One chunk of a file: its hex hash, its length and where it starts in the file."""

    hash: str
    length: int
    offset: int

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.hash)


def pack(entries: Iterable[tuple[bytes, int]]) -> bytes:
    """Pack (digest, length) pairs into the binary manifest."""
    return b"".join(ENTRY.pack(digest, length) for digest, length in entries)


def unpack(packed: bytes, *, content_id: str) -> list[ChunkRef]:
    """The chunk refs of a packed manifest, with their offsets."""
    if len(packed) % ENTRY.size:
        raise Corrupted("manifest length is not a whole number of entries", content_id=content_id)
    refs: list[ChunkRef] = []
    offset = 0
    for digest, length in ENTRY.iter_unpack(packed):
        refs.append(ChunkRef(digest.hex(), length, offset))
        offset += length
    return refs


def content_id(packed: bytes) -> str:
    """The content id of a file: hex BLAKE3 of its packed manifest."""
    return blake3.blake3(packed).hexdigest()


def is_inline(packed: bytes) -> bool:
    """Whether this manifest travels inside `FileContent.chunks` instead of as an object."""
    return len(packed) <= INLINE_MAX_ENTRIES * ENTRY.size


def inline(content: FileContent) -> bytes | None:
    """The packed manifest carried by `content`, or None when it lives in the store."""
    if content.chunks is None:
        return None
    try:
        return base64.b64decode(content.chunks, validate=True)
    except (binascii.Error, ValueError) as e:
        raise Corrupted("inline manifest is not valid base64", content_id=content.id) from e


def verified(packed: bytes, content: FileContent) -> list[ChunkRef]:
    """The refs of `packed` after checking it is the manifest of `content` (id and size)."""
    if content_id(packed) != content.id:
        raise Corrupted("manifest does not match its content id", content_id=content.id)
    refs = unpack(packed, content_id=content.id)
    size = refs[-1].end if refs else 0
    if size != content.size:
        raise Corrupted(f"manifest covers {size} bytes, content says {content.size}", content_id=content.id)
    return refs


def file_content(packed: bytes, *, size: int, md5: str | None) -> FileContent:
    """The `FileContent` of a finished file; the manifest is inlined when it is small."""
    chunks = base64.b64encode(packed).decode("ascii") if is_inline(packed) else None
    return FileContent(id=content_id(packed), size=size, md5=md5, chunks=chunks)
