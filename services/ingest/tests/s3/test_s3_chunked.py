"""aws-chunked bodies: AWS's published example, botocore's encoder, trailers, tampering, bounded memory."""

from __future__ import annotations

import base64
import hashlib
import io
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, Sha256Checksum
from multidict import CIMultiDict, CIMultiDictProxy
from test_s3_auth import Wire

from tusk_ingest.s3 import errors, sigv4
from tusk_ingest.s3.auth import Authenticator, StaticCredentials
from tusk_ingest.s3.chunked import ChunkedBody
from tusk_ingest.s3.payload import RequestPayload

EXAMPLE_KEYS = StaticCredentials({"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)


def example_request() -> Wire:
    """AWS's example of a signed streaming upload: 66,560 bytes of `a` in a 64 KiB and a 1 KiB chunk."""
    headers = CIMultiDict({
        "Host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                         "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                         f"x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}",
        "x-amz-content-sha256": sigv4.STREAMING_SIGNED,
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "Content-Length": "66824",
    })
    return Wire("PUT", "/examplebucket/chunkObject.txt", CIMultiDictProxy(headers))


def example_body(signatures: Iterable[str] = CHUNK_SIGNATURES, data: bytes = b"a" * 66560) -> bytes:
    s1, s2, s3 = signatures
    return (f"10000;chunk-signature={s1}\r\n".encode() + data[:65536] + b"\r\n"
            + f"400;chunk-signature={s2}\r\n".encode() + data[65536:] + b"\r\n"
            + f"0;chunk-signature={s3}\r\n\r\n".encode())


async def pieces(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at:at + size]


async def drain(it: object) -> bytes:
    return b"".join([p async for p in it])  # type: ignore[attr-defined]


async def example_signing() -> sigv4.ChunkSigning:
    then = datetime(2013, 5, 24, tzinfo=UTC).timestamp()
    result = await Authenticator(EXAMPLE_KEYS, clock=lambda: then).authenticate(example_request())
    assert result.chunk_signing is not None
    return result.chunk_signing


async def test_aws_documented_signed_streaming_example() -> None:
    signing = await example_signing()
    assert signing.seed_signature == SEED
    body = ChunkedBody(pieces(example_body()), signing=signing, signed=True, decoded_length=66560)
    assert await drain(body) == b"a" * 66560
    assert len(example_body()) == 66824


@pytest.mark.parametrize("piece", [1, 7, 4096])
async def test_framing_survives_any_read_boundaries(piece: int) -> None:
    signing = await example_signing()
    body = ChunkedBody(pieces(example_body(), piece), signing=signing, signed=True, decoded_length=66560)
    assert await drain(body) == b"a" * 66560


async def test_tampered_chunk_signature_or_data_is_refused() -> None:
    signing = await example_signing()
    bad = list(CHUNK_SIGNATURES)
    bad[1] = "1" + bad[1][1:]
    with pytest.raises(errors.SignatureDoesNotMatch):
        await drain(ChunkedBody(pieces(example_body(bad)), signing=signing, signed=True))
    data = bytearray(b"a" * 66560)
    data[70000 - 4000] = ord("b")
    with pytest.raises(errors.SignatureDoesNotMatch):
        await drain(ChunkedBody(pieces(example_body(data=bytes(data))), signing=signing, signed=True))
    unsigned = example_body().replace(f";chunk-signature={CHUNK_SIGNATURES[0]}".encode(), b"")
    with pytest.raises(errors.SignatureDoesNotMatch):
        await drain(ChunkedBody(pieces(unsigned), signing=signing, signed=True))


async def test_length_checks() -> None:
    signing = await example_signing()
    with pytest.raises(errors.IncompleteBody):
        await drain(ChunkedBody(pieces(example_body()), signing=signing, signed=True, decoded_length=70000))
    with pytest.raises(errors.InvalidRequest):
        await drain(ChunkedBody(pieces(example_body()), signing=signing, signed=True, decoded_length=1000))
    with pytest.raises(errors.IncompleteBody):
        await drain(ChunkedBody(pieces(example_body()[:40000]), signing=signing, signed=True))


def botocore_encoded(data: bytes, checksum_cls: type, name: str, chunk: int = 16384) -> bytes:
    wrapper = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=checksum_cls, checksum_name=name, chunk_size=chunk)
    return wrapper.read()


async def test_unsigned_trailer_as_botocore_encodes_it() -> None:
    data = bytes(range(256)) * 300
    wire = botocore_encoded(data, Crc32Checksum, "x-amz-checksum-crc32")
    chunked = ChunkedBody(pieces(wire, 1000))
    payload = RequestPayload(chunked, max_size=10**9, expected_size=len(data), chunked=chunked,
                             trailer_algorithms=["crc32"])
    assert await drain(payload) == data
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert chunked.trailers == {"x-amz-checksum-crc32": crc}
    assert payload.checksums == {"crc32": crc}


async def test_wrong_or_missing_trailer_checksum_is_refused() -> None:
    data = b"x" * 5000
    wire = botocore_encoded(data, Sha256Checksum, "x-amz-checksum-sha256")
    chunked = ChunkedBody(pieces(wire))
    payload = RequestPayload(chunked, max_size=10**9, chunked=chunked, trailer_algorithms=["crc32"])
    with pytest.raises(errors.InvalidRequest):  # the declared trailer never came
        await drain(payload)
    forged = wire.replace(wire[wire.index(b"x-amz-checksum-sha256:") + 22:-4], b"A" * 43 + b"=")
    chunked = ChunkedBody(pieces(forged))
    payload = RequestPayload(chunked, max_size=10**9, chunked=chunked, trailer_algorithms=["sha256"])
    with pytest.raises(errors.BadDigest):
        await drain(payload)


def signed_trailer_body(signing: sigv4.ChunkSigning, data: bytes, trailer: str) -> tuple[bytes, str]:
    previous, out = signing.seed_signature, []
    for chunk in (data[:1000], data[1000:], b""):
        previous = signing.chunk_signature(previous, hashlib.sha256(chunk).hexdigest())
        out.append(f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk)
        if chunk:
            out.append(b"\r\n")
    out.append(trailer.encode() + b"\r\n")
    trailer_sig = signing.trailer_signature(previous, (trailer + "\n").encode())
    out.append(f"x-amz-trailer-signature:{trailer_sig}\r\n\r\n".encode())
    return b"".join(out), trailer_sig


async def test_signed_payload_with_trailer() -> None:
    signing = await example_signing()
    data = b"0123456789" * 250
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    wire, trailer_sig = signed_trailer_body(signing, data, f"x-amz-checksum-crc32:{crc}")
    chunked = ChunkedBody(pieces(wire, 333), signing=signing, signed=True, decoded_length=len(data))
    payload = RequestPayload(chunked, max_size=10**9, chunked=chunked, trailer_algorithms=["crc32"])
    assert await drain(payload) == data
    forged = wire.replace(trailer_sig.encode(), b"0" * 64)
    chunked = ChunkedBody(pieces(forged), signing=signing, signed=True)
    with pytest.raises(errors.SignatureDoesNotMatch):
        await drain(chunked)


async def test_memory_stays_bounded_for_a_64_mib_chunk() -> None:
    size, piece = 64 * 1024 * 1024, 256 * 1024
    block = b"z" * piece

    async def source() -> AsyncIterator[bytes]:
        yield f"{size:x}\r\n".encode()
        for _ in range(size // piece):
            yield block
        yield b"\r\n0\r\n\r\n"

    tracemalloc.start()
    try:
        total = 0
        async for p in ChunkedBody(source(), decoded_length=size):
            total += len(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 4 * 1024 * 1024


def signed_chunks_body(signing: sigv4.ChunkSigning, chunks: list[bytes]) -> bytes:
    previous, out = signing.seed_signature, []
    for chunk in [*chunks, b""]:
        previous = signing.chunk_signature(previous, hashlib.sha256(chunk).hexdigest())
        out.append(f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n")
    return b"".join(out)


async def test_big_signed_chunks_are_verified_in_batches_and_passed_on_uncopied() -> None:
    signing = await example_signing()
    chunks = [bytes([i]) * (3 * 1024 * 1024 + 17 * i) for i in range(1, 4)]  # several hash batches each
    data = b"".join(chunks)
    wire = signed_chunks_body(signing, chunks)
    received = [wire[at:at + 256 * 1024] for at in range(0, len(wire), 256 * 1024)]

    async def source() -> AsyncIterator[bytes]:
        for piece in received:
            yield piece

    out = [p async for p in ChunkedBody(source(), signing=signing, signed=True, decoded_length=len(data))]
    assert b"".join(out) == data
    views = [p for p in out if isinstance(p, memoryview)]
    assert views and all(any(v.obj is r for r in received) for v in views)  # views of what arrived
    tampered = bytearray(wire)
    tampered[len(wire) // 2] ^= 1
    with pytest.raises(errors.SignatureDoesNotMatch):
        await drain(ChunkedBody(pieces(bytes(tampered), 256 * 1024), signing=signing, signed=True))
