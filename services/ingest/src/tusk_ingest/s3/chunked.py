"""Streaming decoder of `aws-chunked` bodies, in the three forms current clients send.

    STREAMING-AWS4-HMAC-SHA256-PAYLOAD           SIZE;chunk-signature=SIG\\r\\n DATA \\r\\n ... 0;chunk-signature=SIG\\r\\n\\r\\n
    STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER   same, then after the 0 chunk: trailer lines and
                                                 x-amz-trailer-signature:SIG, then \\r\\n
    STREAMING-UNSIGNED-PAYLOAD-TRAILER           SIZE\\r\\n DATA \\r\\n ... 0\\r\\n trailer lines \\r\\n

Each chunk signature chains from the previous one (the first from the request's seed signature). Data
is passed on as it arrives, as views of the received pieces (never copied), so memory stays bounded by
the reads, not by the chunk size; the SHA-256 of a signed chunk is computed in a thread, a megabyte at a
time. A chunk whose signature fails raises at its end, and the caller then discards everything it
received (the driver's contract: a body that raises stores nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterable, AsyncIterator

from tusk_ingest.s3.errors import IncompleteBody, InvalidRequest, SignatureDoesNotMatch
from tusk_ingest.s3.sigv4 import ChunkSigning

MAX_LINE = 4096
HASH_BATCH = 1024 * 1024  # bytes of a signed chunk hashed per hop to a thread ...
HASH_IN_PLACE = 128 * 1024  # ... and below this (a chunk's last bytes), on the event loop: cheaper than a hop
MAX_TRAILERS = 16
TRAILER_SIGNATURE = "x-amz-trailer-signature"


class _Reader:
    """Lines and counted byte runs over an async iterable of pieces, without copying the data: a run
    is yielded as views of the pieces it arrived in. Only when a header line is split across two pieces
    are they joined (the line's start, at most `MAX_LINE` bytes, and the next piece)."""

    def __init__(self, source: AsyncIterable[bytes | memoryview]) -> None:
        self._it = source.__aiter__()
        self._buf = b""
        self._pos = 0  # bytes of `_buf` already consumed
        self._eof = False

    def _left(self) -> int:
        return len(self._buf) - self._pos

    async def _more(self) -> bool:
        if self._eof:
            return False
        try:
            piece = await self._it.__anext__()
        except StopAsyncIteration:
            self._eof = True
            return False
        piece = piece if isinstance(piece, bytes) else bytes(piece)
        if self._left():  # the start of a line that continues in `piece` (rare)
            self._buf = self._buf[self._pos:] + piece
        else:
            self._buf = piece
        self._pos = 0
        return True

    async def line(self) -> bytes | None:
        """The next CRLF-ended line without its CRLF; None at a clean end of stream."""
        while True:
            end = self._buf.find(b"\n", self._pos)
            if end >= 0:
                line, self._pos = self._buf[self._pos:end], end + 1
                return line[:-1] if line.endswith(b"\r") else line
            if self._left() > MAX_LINE:
                raise InvalidRequest("aws-chunked body: a chunk header or trailer line is too long")
            if not await self._more():
                if not self._left():
                    return None
                line, self._pos = self._buf[self._pos:], len(self._buf)
                return line

    async def take(self, n: int) -> AsyncIterator[bytes | memoryview]:
        """Exactly `n` bytes, yielded as they arrive (read-only views of the received pieces)."""
        while n > 0:
            if not self._left() and not await self._more():
                raise IncompleteBody("the aws-chunked body ended inside a chunk")
            k = min(n, self._left())
            if self._pos == 0 and k == len(self._buf):
                piece: bytes | memoryview = self._buf
            else:
                piece = memoryview(self._buf)[self._pos:self._pos + k]
            self._pos += k
            n -= k
            yield piece


class ChunkedBody:
    """Async-iterates the payload of an aws-chunked body; `trailers` holds the trailers afterwards."""

    def __init__(
        self,
        source: AsyncIterable[bytes | memoryview],
        *,
        signing: ChunkSigning | None = None,
        signed: bool = False,
        decoded_length: int | None = None,
    ) -> None:
        self._reader = _Reader(source)
        self._signing = signing
        self._signed = signed
        self._decoded_length = decoded_length
        self.trailers: dict[str, str] = {}
        self.size = 0

    def __aiter__(self) -> AsyncIterator[bytes | memoryview]:
        return self._decode()

    async def _decode(self) -> AsyncIterator[bytes | memoryview]:
        previous = self._signing.seed_signature if self._signing else ""
        while True:
            header = await self._reader.line()
            if header is None:
                raise IncompleteBody("the aws-chunked body ended before its final chunk")
            size, signature = self._parse_header(header)
            digest = hashlib.sha256() if self._signing else None
            if self._decoded_length is not None and self.size + size > self._decoded_length:
                raise InvalidRequest("the aws-chunked body is longer than x-amz-decoded-content-length")
            unhashed: list[bytes | memoryview] = []  # passed on already, hashed in batches
            unhashed_bytes = 0
            async for piece in self._reader.take(size):
                if digest is not None:
                    unhashed.append(piece)
                    unhashed_bytes += len(piece)
                    if unhashed_bytes >= HASH_BATCH:
                        await asyncio.to_thread(_update, digest, unhashed)
                        unhashed, unhashed_bytes = [], 0
                self.size += len(piece)
                yield piece
            if self._signing is not None and digest is not None:
                if unhashed_bytes >= HASH_IN_PLACE:
                    await asyncio.to_thread(_update, digest, unhashed)
                else:
                    _update(digest, unhashed)
                expected = self._signing.chunk_signature(previous, digest.hexdigest())
                if not hmac.compare_digest(expected, signature or ""):
                    raise SignatureDoesNotMatch("a chunk signature of the aws-chunked body does not match")
                previous = expected
            if size == 0:
                break
            if await self._reader.line() != b"":
                raise InvalidRequest("aws-chunked body: chunk data is not followed by CRLF")
        if self._decoded_length is not None and self.size != self._decoded_length:
            raise IncompleteBody(
                f"the aws-chunked body carried {self.size} bytes, x-amz-decoded-content-length says "
                f"{self._decoded_length}"
            )
        await self._read_trailers(previous)

    def _parse_header(self, header: bytes) -> tuple[int, str | None]:
        text = header.decode("ascii", errors="replace")
        size_text, _, ext = text.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise InvalidRequest(f"aws-chunked body: bad chunk header {text[:80]!r}") from None
        if size < 0:
            raise InvalidRequest("aws-chunked body: negative chunk size")
        signature = None
        name, _, value = ext.partition("=")
        if name.strip() == "chunk-signature":
            signature = value.strip().lower()
        if self._signed and signature is None:
            raise SignatureDoesNotMatch("a chunk of a signed aws-chunked body has no chunk-signature")
        return size, signature

    async def _read_trailers(self, previous: str) -> None:
        trailer_signature = None
        canonical = []
        for _ in range(MAX_TRAILERS + 2):
            line = await self._reader.line()
            if not line:  # the empty line that ends the body, or the end of the stream
                break
            name, sep, value = line.decode("utf-8", errors="replace").partition(":")
            if not sep:
                raise InvalidRequest(f"aws-chunked body: bad trailer line {line[:80]!r}")
            name, value = name.strip().lower(), value.strip()
            if name == TRAILER_SIGNATURE:
                trailer_signature = value.lower()
                continue
            self.trailers[name] = value
            canonical.append(f"{name}:{value}\n")
        else:
            raise InvalidRequest("aws-chunked body: too many trailers")
        if self._signing is not None and (self.trailers or trailer_signature is not None):
            expected = self._signing.trailer_signature(previous, "".join(sorted(canonical)).encode())
            if not hmac.compare_digest(expected, trailer_signature or ""):
                raise SignatureDoesNotMatch("the trailer signature of the aws-chunked body does not match")
        if await self._reader.line() is not None:
            raise InvalidRequest("aws-chunked body: data after the final chunk")


def _update(digest: hashlib._Hash, pieces: list[bytes | memoryview]) -> None:
    for piece in pieces:
        digest.update(piece)
