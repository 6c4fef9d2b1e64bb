"""Request bodies as the driver receives them: decoded, measured, hashed and verified while streaming.

`RequestPayload` turns the raw bytes of a request (plain, or any `aws-chunked` form) into the payload,
computing MD5 (the ETag) and the flexible checksums on the way. Every check that needs the whole body
(Content-MD5, x-amz-content-sha256, x-amz-checksum-* headers and trailers, lengths) runs when the last
byte has been read and raises from the iteration itself, so a driver that consumes the body sees the
error before it stores anything.

A consumer that computes the MD5 of the bytes anyway (the chunk store's writer does, for the file's
`FileContent`) calls `defer_md5()` before reading and `settle_md5(hex)` after: every byte is then hashed
with MD5 once, not twice, and the Content-MD5 check runs in `settle_md5` (before anything is committed).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping

from aiohttp import StreamReader, web

from tusk_ingest.s3 import checksums as ck
from tusk_ingest.s3 import sigv4
from tusk_ingest.s3.auth import AuthResult
from tusk_ingest.s3.chunked import ChunkedBody
from tusk_ingest.s3.errors import (
    BadDigest,
    EntityTooLarge,
    IncompleteBody,
    InvalidArgument,
    InvalidRequest,
    XAmzContentSHA256Mismatch,
)

READ_SIZE = 256 * 1024
HASH_BATCH = 1024 * 1024  # bytes hashed per hop to a thread (smaller bodies are hashed in place)


class RequestPayload:
    """The verified payload of one request; iterate once, then read `size`, `md5_hex`, `checksums`."""

    def __init__(
        self,
        source: AsyncIterable[bytes | memoryview],
        *,
        max_size: int,
        expected_size: int | None = None,
        content_md5: bytes | None = None,
        sha256_hex: str | None = None,
        expected: Mapping[str, str] | None = None,
        algorithms: Iterable[str] = (),
        chunked: ChunkedBody | None = None,
        trailer_algorithms: Iterable[str] = (),
    ) -> None:
        self._source = source
        self._max_size = max_size
        self._expected_size = expected_size
        self._content_md5 = content_md5
        self._sha256_hex = sha256_hex.lower() if sha256_hex else None
        self._expected = dict(expected or {})
        self._trailer_algorithms = tuple(trailer_algorithms)
        self._chunked = chunked
        names = dict.fromkeys([*self._expected, *self._trailer_algorithms, *algorithms])
        self._calculators = {alg: ck.new(alg) for alg in names}
        self._md5: hashlib._Hash | None = hashlib.md5(usedforsecurity=False)
        self._md5_hex: str | None = None
        self._started = False
        self._sha256 = hashlib.sha256() if self._sha256_hex else None
        self._size = 0
        self._done = False
        self._checksums: dict[str, str] = {}

    @property
    def size(self) -> int:
        return self._size

    @property
    def md5_hex(self) -> str:
        self._require_done()
        if self._md5_hex is None:
            raise RuntimeError("the payload's MD5 was deferred to its consumer and not settled")
        return self._md5_hex

    def defer_md5(self) -> None:
        """The consumer computes the MD5 of what it reads and hands it to `settle_md5`."""
        if self._started:
            raise RuntimeError("the MD5 can only be deferred before the payload is read")
        self._md5 = None

    def settle_md5(self, md5_hex: str) -> None:
        """The MD5 a consumer computed after `defer_md5()`; raises BadDigest if Content-MD5 differs."""
        self._require_done()
        if self._md5 is not None:
            raise RuntimeError("the payload computed its MD5 itself")
        if self._content_md5 is not None and not hmac.compare_digest(bytes.fromhex(md5_hex), self._content_md5):
            raise BadDigest()
        self._md5_hex = md5_hex

    @property
    def checksums(self) -> Mapping[str, str]:
        self._require_done()
        return self._checksums

    def __aiter__(self) -> AsyncIterator[bytes | memoryview]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes | memoryview]:
        if self._done or self._started:
            raise RuntimeError("a request payload can be read once")
        self._started = True
        hashing = self._md5 is not None or self._sha256 is not None or bool(self._calculators)
        batch: list[bytes | memoryview] = []
        batched = 0
        async for piece in self._source:
            if not piece:
                continue
            self._size += len(piece)
            if self._size > self._max_size:
                raise EntityTooLarge(max_size=self._max_size)
            if not hashing:
                yield piece
                continue
            batch.append(piece)
            batched += len(piece)
            if batched >= HASH_BATCH:  # hashed in a thread: the event loop keeps serving other requests
                await asyncio.to_thread(self._hash, batch)
                batch, batched = [], 0
            yield piece
        if batched >= HASH_BATCH // 16:
            await asyncio.to_thread(self._hash, batch)
        else:
            self._hash(batch)
        self._finish()

    def _hash(self, pieces: list[bytes | memoryview]) -> None:
        for piece in pieces:
            if self._md5 is not None:
                self._md5.update(piece)
            if self._sha256 is not None:
                self._sha256.update(piece)
            for calc in self._calculators.values():
                calc.update(piece)

    def _finish(self) -> None:
        if self._expected_size is not None and self._size != self._expected_size:
            raise IncompleteBody(
                f"the body carried {self._size} bytes, {self._expected_size} were announced"
            )
        if self._md5 is not None:
            digest = self._md5.digest()
            if self._content_md5 is not None and not hmac.compare_digest(digest, self._content_md5):
                raise BadDigest()
            self._md5_hex = digest.hex()
        if self._sha256 is not None and self._sha256.hexdigest() != self._sha256_hex:
            raise XAmzContentSHA256Mismatch()
        self._checksums = {alg: ck.b64(calc.digest()) for alg, calc in self._calculators.items()}
        for alg, value in self._expected.items():
            if self._checksums[alg] != value:
                raise BadDigest(f"The {alg.upper()} you specified did not match the calculated checksum.")
        trailers = self._chunked.trailers if self._chunked is not None else {}
        for alg in self._trailer_algorithms:
            sent = trailers.get(ck.header_name(alg))
            if sent is None:
                raise InvalidRequest(f"The body declared the trailer {ck.header_name(alg)} but did not send it")
            ck.decode_value(alg, sent)
            if self._checksums[alg] != sent:
                raise BadDigest(f"The {alg.upper()} you specified did not match the calculated checksum.")
        self._done = True

    def _require_done(self) -> None:
        if not self._done:
            raise RuntimeError("the payload's digests are known once it has been read to the end")


def request_payload(
    request: web.Request, auth: AuthResult, *, max_size: int, algorithms: Iterable[str] = ()
) -> RequestPayload:
    """The payload of an aiohttp request, with every integrity check its headers ask for."""
    headers = request.headers
    content_sha = (auth.payload_hash or headers.get("x-amz-content-sha256") or "").strip()
    encodings = [e.strip().lower() for e in headers.get("Content-Encoding", "").split(",")]
    source: AsyncIterable[bytes | memoryview] = received_pieces(request.content)
    chunked = None
    expected_size = request.content_length
    if "aws-chunked" in encodings or content_sha in sigv4.STREAMING_PAYLOADS:
        decoded = headers.get("x-amz-decoded-content-length")
        expected_size = _length(decoded, "x-amz-decoded-content-length") if decoded is not None else None
        signed = content_sha in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER)
        chunked = ChunkedBody(source, signing=auth.chunk_signing,
                              signed=signed and auth.chunk_signing is not None, decoded_length=expected_size)
        source = chunked
    trailer_algorithms = []
    for name in headers.get("x-amz-trailer", "").split(","):
        name = name.strip().lower()
        if name.startswith(ck.HEADER_PREFIX):
            trailer_algorithms.append(ck.parse_algorithm(name[len(ck.HEADER_PREFIX):]))
        elif name:
            raise InvalidRequest(f"the trailer {name!r} is not supported")
    if trailer_algorithms and chunked is None:
        raise InvalidRequest("x-amz-trailer needs an aws-chunked body")
    declared = list(algorithms)
    sdk_algorithm = headers.get("x-amz-sdk-checksum-algorithm")
    if sdk_algorithm:
        declared.append(ck.parse_algorithm(sdk_algorithm))
    return RequestPayload(
        source,
        max_size=max_size,
        expected_size=expected_size,
        content_md5=ck.content_md5(headers.get("Content-MD5")),
        sha256_hex=content_sha if chunked is None and _is_hex_sha256(content_sha) else None,
        expected=ck.from_headers(headers),
        algorithms=declared,
        chunked=chunked,
        trailer_algorithms=trailer_algorithms,
    )


async def received_pieces(content: StreamReader) -> AsyncIterator[bytes]:
    """A request body in the pieces the HTTP parser produced, each as it is: never joined with its
    neighbours or split at a fixed size (`iter_chunked` does both, copying every byte once more)."""
    raise_limits = getattr(content, "set_read_chunk_size", None)  # aiohttp >= 3.12
    if raise_limits is not None:
        raise_limits(READ_SIZE)  # let about 2 x READ_SIZE wait in the buffer before the socket pauses
    while True:
        data, _ = await content.readchunk()
        if data:
            yield data
        elif content.at_eof():
            return


def _is_hex_sha256(value: str) -> bool:
    return sigv4.is_payload_hash(value) and value not in sigv4.STREAMING_PAYLOADS \
        and value != sigv4.UNSIGNED_PAYLOAD


def _length(value: str, name: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise InvalidArgument(f"{name} must be a number of bytes", field=name) from None
    if n < 0:
        raise InvalidArgument(f"{name} must not be negative", field=name)
    return n
