"""Chunk upload use cases (the protocol restic and borg use): a client cuts and hashes a file itself, asks
which chunks the store lacks, uploads only those, then commits the file as its manifest.

The server trusts nothing it can check: every uploaded chunk must hash to the digest it came with, and a
manifest is accepted only when each of its chunks is stored with exactly the length the manifest says.
"""

from __future__ import annotations

import asyncio
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tusk_common.errors import Invalid
from tusk_common.store import ChunkStore
from tusk_common.store.chunk import HASH_SIZE
from tusk_common.store.manifest import ENTRY
from tusk_common.wire.versioning import FileContent

CHUNKER = "fastcdc-2020"
HASH = "blake3"


@dataclass(frozen=True, slots=True)
class FramesOutcome:
    chunks: int  # frames received
    bytes: int  # chunk bytes received


def digest_of(hex_: str, field: str = "chunks") -> bytes:
    """A chunk digest from its 64 hex chars; `Invalid` naming `field` otherwise."""
    try:
        digest = bytes.fromhex(hex_)
    except ValueError:
        digest = b""
    if len(digest) != HASH_SIZE:
        raise Invalid(f"{hex_[:80]!r} is not a chunk hash (64 hex chars)", field=field)
    return digest


def manifest_entries(packed: bytes, field: str = "manifest") -> list[tuple[bytes, int]]:
    """(digest, length) pairs of a packed manifest (36 bytes per chunk)."""
    if len(packed) % ENTRY.size:
        raise Invalid(f"a manifest is a whole number of {ENTRY.size}-byte entries", field=field)
    return list(ENTRY.iter_unpack(packed))


def decode_manifest(text: str, field: str = "manifest") -> bytes:
    """The packed manifest carried as base64 in a JSON body."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise Invalid("a manifest travels as standard base64", field=field) from exc


class ChunkUploads:
    """The chunk store side of the protocol."""

    def __init__(self, store: ChunkStore) -> None:
        self.store = store

    def chunking(self) -> dict[str, int | str]:
        """The parameters a client must cut with so that equal bytes get equal ids on both paths."""
        s = self.store.settings
        return {"chunker": CHUNKER, "hash": HASH, "min": s.chunk_min, "avg": s.chunk_avg, "max": s.chunk_max}

    async def missing(self, digests: list[bytes]) -> list[bytes]:
        """The chunks of `digests` the store does not hold (each once, in order)."""
        return await self.store.missing(digests)

    async def store_frames(self, frames: AsyncIterator[tuple[bytes, bytes]]) -> FramesOutcome:
        """Verify and store every (digest, bytes) frame, up to `write_ahead` at once; the first chunk that
        does not match its digest fails the request (chunks stored before it stay, as garbage if unused).
        """
        slots = asyncio.Semaphore(self.store.write_ahead)
        tasks: set[asyncio.Task[None]] = set()
        failed: list[BaseException] = []
        count = total = 0

        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            slots.release()
            if not task.cancelled() and (exc := task.exception()) is not None and not failed:
                failed.append(exc)

        try:
            async for digest, data in frames:
                await slots.acquire()
                if failed:
                    slots.release()
                    raise failed[0]
                task = asyncio.create_task(self.store.put_chunk(digest, data))
                tasks.add(task)
                task.add_done_callback(done)
                count += 1
                total += len(data)
            while tasks:
                await asyncio.wait(set(tasks))
            if failed:
                raise failed[0]
        except BaseException:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return FramesOutcome(count, total)

    async def files_from_manifests(self, manifests: list[bytes]) -> list[FileContent]:
        """The content of each file, refused unless every chunk it names is stored (`Conflict`)."""
        out = []
        for i, packed in enumerate(manifests):
            entries = manifest_entries(packed, field=f"files.{i}.manifest")
            out.append(await self.store.file_from_chunks(entries))
        return out
