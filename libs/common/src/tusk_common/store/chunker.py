"""Push-style content-defined chunking (FastCDC 2020) whose cut points do not depend on how the
stream was split into blocks.

FastCDC decides each cut from the bytes since the previous cut only, so every chunk that `cut_buf`
returns *before* the last one is final. The last one may have been cut only because the buffer ended;
it is kept and rescanned with the next blocks, and emitted at `finish()`. Feeding a stream in any
blocks therefore gives exactly the chunks of chunking the whole stream at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from pyfastcdc import FastCDC

if TYPE_CHECKING:
    from tusk_common.settings import StoreSettings


def immutable(data: bytes | bytearray | memoryview) -> bytes | memoryview:
    """`data` itself when nobody can change it under us (bytes or a view of bytes), else a copy."""
    if isinstance(data, bytes) or (isinstance(data, memoryview) and isinstance(data.obj, bytes)):
        return data
    return bytes(data)


class Chunker:
    """Feed byte blocks of any size; get back the chunks that are final (not thread-safe).

    Chunks are read-only memoryviews into an internal immutable buffer (no copy per chunk); they stay
    valid for as long as they are referenced.
    """

    def __init__(self, min_size: int, avg_size: int, max_size: int, *, batch_size: int | None = None) -> None:
        if not min_size <= avg_size <= max_size:
            raise ValueError(f"need min <= avg <= max, got {min_size}, {avg_size}, {max_size}")
        self._cdc = FastCDC(avg_size, min_size=min_size, max_size=max_size)
        self.max_size = max_size
        # Cut only once this much is buffered: each cut rescans (and copies) the kept tail, so cutting
        # on every small block would cost O(max_size) per block.
        self._batch = max(batch_size or 2 * max_size, max_size + 1)
        self._tail: bytes = b""
        self._blocks: list[bytes | memoryview] = []
        self._buffered = 0

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> Chunker:
        """A chunker with the store's min/avg/max chunk sizes."""
        return cls(settings.chunk_min, settings.chunk_avg, settings.chunk_max)

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet returned in a chunk."""
        return self._buffered

    def feed(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        """Add a block; return the chunks that no later byte can change, in order."""
        if not len(data):
            return []
        self._blocks.append(immutable(data))
        self._buffered += memoryview(data).nbytes
        if self._buffered < self._batch:
            return []
        return self._cut(final=False)

    def finish(self) -> list[memoryview]:
        """End of stream: return every remaining chunk (none for an empty stream)."""
        return self._cut(final=True)

    def _cut(self, *, final: bool) -> list[memoryview]:
        buf = memoryview(b"".join([self._tail, *self._blocks]))
        self._blocks = []
        ends = [c.offset + c.length for c in self._cdc.cut_buf(buf)]
        if not final and ends:
            ends.pop()  # the last cut may only be where the buffer ended
        out, start = [], 0
        for end in ends:
            out.append(buf[start:end])
            start = end
        self._tail = bytes(buf[start:])
        self._buffered = len(self._tail)
        return out


class Readable(Protocol):
    """A binary file: what `file_chunks` reads from."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


def file_chunks(
    fh: Readable, min_size: int, avg_size: int, max_size: int, *, block: int = 8 << 20
) -> Iterator[memoryview]:
    """The chunks of a file read from its current position, cut exactly as `Chunker` cuts them.

    Each block is read straight into a fresh buffer behind the unfinished tail of the previous one, so
    only the tail (at most `max_size`) is ever copied. Chunks are read-only views that stay valid for as
    long as they are referenced.
    """
    cdc = FastCDC(avg_size, min_size=min_size, max_size=max_size)
    block = max(block, 2 * max_size)
    tail = memoryview(b"")
    while True:
        buf = bytearray(len(tail) + block)
        buf[: len(tail)] = tail
        got = fh.readinto(memoryview(buf)[len(tail) :]) or 0
        final = got == 0
        view = memoryview(buf)[: len(tail) + got].toreadonly()
        ends = [c.offset + c.length for c in cdc.cut_buf(view)] if len(view) else []
        if not final and ends:
            ends.pop()  # the last cut may only be where the buffer ended
        start = 0
        for end in ends:
            yield view[start:end]
            start = end
        tail = view[start:]
        if final:
            return
