"""FastCDC push chunking: cut points do not depend on how the stream is split into blocks."""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from pyfastcdc import FastCDC

from tusk_common.settings import StoreSettings
from tusk_common.store import Chunker
from tusk_common.store.chunker import file_chunks

MIN, AVG, MAX = 4 * 1024, 16 * 1024, 64 * 1024


def whole(data: bytes) -> list[bytes]:
    return [bytes(c.data) for c in FastCDC(AVG, min_size=MIN, max_size=MAX).cut_buf(data)]


def pushed(data: bytes, rng: random.Random, sizes: list[int]) -> list[bytes]:
    chunker = Chunker(MIN, AVG, MAX)
    out, i = [], 0
    while i < len(data):
        n = rng.choice(sizes)
        block = data[i : i + n]
        # Mutable blocks too: the chunker must not keep aliases to buffers the caller reuses.
        out += chunker.feed(bytearray(block) if rng.random() < 0.3 else block)
        i += n
    out += chunker.finish()
    return [bytes(c) for c in out]


@pytest.mark.parametrize("seed", range(6))
def test_pushing_random_blocks_cuts_like_the_whole_stream(seed: int) -> None:
    rng = random.Random(seed)
    data = rng.randbytes(rng.randrange(200_000, 1_500_000))
    sizes = [1, 7, 100, 4096, 10_000, 65_536, 100_000, 300_000]
    expected = whole(data)
    assert len(expected) > 10
    assert pushed(data, rng, sizes) == expected


def test_low_entropy_data_cuts_at_max_size_like_the_whole_stream() -> None:
    data = bytes(1_000_000)  # no content-defined cut points: every chunk is max size
    rng = random.Random(1)
    chunks = pushed(data, rng, [1000, 50_000])
    assert chunks == whole(data)
    assert {len(c) for c in chunks[:-1]} == {MAX}


def test_chunks_respect_min_and_max_sizes() -> None:
    data = random.Random(2).randbytes(2_000_000)
    chunks = pushed(data, random.Random(3), [65_536])
    assert b"".join(chunks) == data
    assert all(MIN <= len(c) <= MAX for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= MAX


def test_file_smaller_than_min_is_one_chunk() -> None:
    chunker = Chunker(MIN, AVG, MAX)
    assert chunker.feed(b"a" * (MIN - 1)) == []
    assert [bytes(c) for c in chunker.finish()] == [b"a" * (MIN - 1)]


def test_empty_stream_has_no_chunks() -> None:
    chunker = Chunker(MIN, AVG, MAX)
    assert chunker.feed(b"") == []
    assert chunker.finish() == []


def test_buffer_stays_below_batch_plus_one_block() -> None:
    chunker = Chunker(MIN, AVG, MAX)
    data = random.Random(4).randbytes(1_000_000)
    for i in range(0, len(data), 10_000):
        chunker.feed(data[i : i + 10_000])
        assert chunker.buffered < 2 * MAX + 10_000


def test_default_sizes_come_from_settings() -> None:
    chunker = Chunker.from_settings(StoreSettings())
    assert chunker.max_size == 2 * 1024 * 1024


def test_rejects_inconsistent_sizes() -> None:
    with pytest.raises(ValueError):
        Chunker(AVG, MIN, MAX)


class _ShortReads(io.BytesIO):
    """A file that hands out fewer bytes than asked, as pipes and some file systems do."""

    def readinto(self, b: Any) -> int:
        view = memoryview(b)
        return super().readinto(view[: max(1, len(view) // 3)])


@pytest.mark.parametrize("size", [0, 1, MIN - 1, 200_000, 1_234_567])
@pytest.mark.parametrize("block", [1, 70_000, 8 << 20])
def test_cutting_a_file_gives_the_chunks_of_the_whole_stream(size: int, block: int) -> None:
    data = random.Random(size).randbytes(size)
    expected = whole(data)
    assert [bytes(c) for c in file_chunks(io.BytesIO(data), MIN, AVG, MAX, block=block)] == expected
    assert [bytes(c) for c in file_chunks(_ShortReads(data), MIN, AVG, MAX, block=block)] == expected
