"""Request payloads: the MD5 a consumer settles, and bodies read as the HTTP parser delivered them."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import StreamReader

from tusk_ingest.s3 import errors
from tusk_ingest.s3.payload import RequestPayload, received_pieces


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def drain(payload: RequestPayload) -> bytes:
    return b"".join([p async for p in payload])


async def test_a_payload_computes_its_md5_and_checks_content_md5() -> None:
    payload = RequestPayload(pieces(b"ab", b"c"), max_size=10, content_md5=hashlib.md5(b"abc").digest())
    assert await drain(payload) == b"abc"
    assert payload.md5_hex == hashlib.md5(b"abc").hexdigest()
    wrong = RequestPayload(pieces(b"abc"), max_size=10, content_md5=hashlib.md5(b"abd").digest())
    with pytest.raises(errors.BadDigest):
        await drain(wrong)


async def test_a_deferred_md5_is_the_consumers_and_content_md5_is_checked_when_it_is_settled() -> None:
    payload = RequestPayload(pieces(b"abc"), max_size=10, content_md5=hashlib.md5(b"abc").digest())
    payload.defer_md5()
    assert await drain(payload) == b"abc"  # no MD5 computed, so no check yet
    with pytest.raises(RuntimeError):
        payload.md5_hex  # noqa: B018 (not settled yet)
    payload.settle_md5(hashlib.md5(b"abc").hexdigest())
    assert payload.md5_hex == hashlib.md5(b"abc").hexdigest()

    lying = RequestPayload(pieces(b"abc"), max_size=10, content_md5=hashlib.md5(b"abd").digest())
    lying.defer_md5()
    await drain(lying)
    with pytest.raises(errors.BadDigest):
        lying.settle_md5(hashlib.md5(b"abc").hexdigest())


async def test_the_md5_is_deferred_before_reading_or_not_at_all() -> None:
    payload = RequestPayload(pieces(b"abc"), max_size=10)
    it = aiter(payload)
    await anext(it)
    with pytest.raises(RuntimeError):
        payload.defer_md5()
    with pytest.raises(RuntimeError):
        await drain(payload)  # read once


class _Protocol:
    """What a StreamReader asks of its connection: pause and resume reading."""

    def pause_reading(self) -> None: ...
    def resume_reading(self, resume_parser: bool = True) -> None: ...


async def test_received_pieces_are_passed_on_as_the_parser_delivered_them() -> None:
    loop = asyncio.get_running_loop()
    reader = StreamReader(_Protocol(), 2**16, loop=loop)  # type: ignore[arg-type]
    parts = [b"a" * 100_000, b"b" * 300_000, b"c" * 7]
    for part in parts:
        reader.feed_data(part)
    reader.feed_eof()
    got = [p async for p in received_pieces(reader)]
    assert got == parts and all(g is p for g, p in zip(got, parts, strict=True))  # never joined or split
