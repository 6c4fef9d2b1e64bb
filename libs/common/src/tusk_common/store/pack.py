"""Pack objects: the chunks of many small files written together, kept as one object (as restic does).

A pack is the frames of its chunks back to back, each byte for byte the object a loose chunk would be
(`chunk.py`: header, payload), then an index of them and a trailer:

    pack  = frame* entry* u32(count) b"TPK1"
    entry = BLAKE3 digest (32 bytes), u64 offset, u32 length   -- one per frame, in order

It is stored at `packs/<first 2 hex>/<pack id>`, the pack id being the hex BLAKE3 of its index and
trailer: they name the hash, offset and stored length of every frame, so a pack written again gets the
same id (with the same compression setting, the same bytes; with another, frames that decode to the same
chunks at the same places). Hashing the index, not the frames, keeps the id cheap: every frame is
checked against its chunk hash when it is read anyway. A file whose one chunk lives in a pack says where
(`FileContent.pack` = `<pack id>:<offset>:<length>`); a read fetches exactly that range and checks it as
any chunk is checked (hash and length). The index makes a pack self-describing, for a GC or an fsck that
walks `packs/` without the catalog.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import blake3

from tusk_common.errors import Corrupted
from tusk_common.store.backend import Data
from tusk_common.store.chunk import HASH_SIZE

PACKS_PREFIX = "packs/"
MAGIC = b"TPK1"
ENTRY = struct.Struct(f">{HASH_SIZE}sQI")
TRAILER = struct.Struct(">I4s")


@dataclass(frozen=True, slots=True)
class Location:
    """Where one chunk's frame is: in which pack, at which offset, how many bytes."""

    pack: str
    offset: int
    length: int

    def __str__(self) -> str:
        return f"{self.pack}:{self.offset}:{self.length}"

    @property
    def key(self) -> str:
        return pack_key(self.pack)


def pack_key(pack_id: str) -> str:
    """Object key of a pack: `packs/ab/abcdef…`."""
    return f"{PACKS_PREFIX}{pack_id[:2]}/{pack_id}"


def parse(text: str, *, content_id: str) -> Location:
    """The location `FileContent.pack` names; `Corrupted` when it is not one."""
    try:
        pack_id, offset, length = text.split(":")
        loc = Location(pack_id, int(offset), int(length))
    except ValueError:
        loc = None
    if loc is None or len(loc.pack) != 2 * HASH_SIZE or loc.offset < 0 or loc.length < 1:
        raise Corrupted(f"{text[:100]!r} is not a pack location", content_id=content_id)
    try:
        bytes.fromhex(loc.pack)
    except ValueError as e:
        raise Corrupted(f"{text[:100]!r} is not a pack location", content_id=content_id) from e
    return loc


def build(frames: Sequence[tuple[bytes, Data]]) -> tuple[str, tuple[bytes | memoryview, ...], list[Location]]:
    """A pack of these (digest, stored frame) pairs: its id, its bytes as pieces (frames not copied), and
    where each frame is in it."""
    pieces: list[bytes | memoryview] = []
    index: list[bytes] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    for digest, stored in frames:
        parts = stored if isinstance(stored, tuple) else (stored,)
        length = sum(len(p) for p in parts)
        pieces += parts
        index.append(ENTRY.pack(digest, offset, length))
        spans.append((offset, length))
        offset += length
    tail = b"".join(index) + TRAILER.pack(len(frames), MAGIC)
    pieces.append(tail)
    pack_id = blake3.blake3(tail).hexdigest()
    return pack_id, tuple(pieces), [Location(pack_id, o, n) for o, n in spans]


def index(data: bytes) -> list[tuple[bytes, int, int]]:
    """The (digest, offset, length) of every frame of a whole pack; `Corrupted` if it is not a pack."""
    if len(data) < TRAILER.size:
        raise Corrupted("a pack is shorter than its trailer")
    count, magic = TRAILER.unpack_from(data, len(data) - TRAILER.size)
    start = len(data) - TRAILER.size - count * ENTRY.size
    if magic != MAGIC or start < 0:
        raise Corrupted("not a pack: its trailer is wrong")
    entries = [ENTRY.unpack_from(data, start + i * ENTRY.size) for i in range(count)]
    if any(o + n > start for _, o, n in entries):
        raise Corrupted("a pack's index points past its frames")
    return entries
