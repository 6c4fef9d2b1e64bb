"""Listings of the real driver: S3 order over large and deep trees, at a cost bounded by the page."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from tusk_stack import DriverParts, tusk_driver

from tusk_common.settings import ServiceSettings
from tusk_common.wire import versioning as v
from tusk_ingest.s3.buckets import Bucket
from tusk_ingest.s3.driver import CommonPrefix

REPO = Bucket("big")
BIG = [f"big/k{i:05d}" for i in range(2500)]
DEEP = [f"deep/d{i:04d}/f" for i in range(1200)]
EXTRA = ["big-x", "big.csv", "deep-1/f", "deep.d/g", "deep/d0005-x", "deep/d0005/g"]


def _content(key: str) -> v.FileContent:
    digest = hashlib.blake2b(key.encode(), digest_size=32).hexdigest()
    return v.FileContent(id=digest, size=len(key), md5=hashlib.md5(key.encode()).hexdigest())


@pytest_asyncio.fixture
async def parts(service_settings: ServiceSettings, tmp_path: Path) -> AsyncIterator[DriverParts]:
    async with tusk_driver(service_settings, tmp_path) as parts:
        await parts.driver.create_bucket(REPO)
        keys = BIG + DEEP + EXTRA
        changes = [v.FileChange(op="put", path="/" + k, content=_content(k)) for k in keys]
        await parts.client.put_files("big", "master", changes)  # one commit, no bytes needed to list
        yield parts


def _count(parts: DriverParts) -> Counter[str]:
    calls: Counter[str] = Counter()
    call = parts.client.call

    async def counting(req: Any, **kw: Any) -> Any:
        calls[type(req).__name__] += 1
        return await call(req, **kw)

    parts.client.call = counting  # type: ignore[method-assign]
    return calls


async def _list(parts: DriverParts, limit: int | None = None, **kw: Any) -> list[str]:
    out = []
    async for item in parts.driver.list_objects(REPO, limit=limit, **kw):
        out.append(item.prefix if isinstance(item, CommonPrefix) else item.key)
        if limit is not None and len(out) == limit:
            break
    return out


async def test_a_whole_listing_of_large_and_deep_directories_is_in_s3_order(parts: DriverParts) -> None:
    everything = sorted(BIG + DEEP + EXTRA)
    assert await _list(parts) == everything
    assert await _list(parts, delimiter="/") == ["big-x", "big.csv", "big/", "deep-1/", "deep.d/", "deep/"]
    assert await _list(parts, prefix="deep/d0005", delimiter="/") == ["deep/d0005-x", "deep/d0005/"]
    assert await _list(parts, prefix="deep/d0005") == ["deep/d0005-x", "deep/d0005/f", "deep/d0005/g"]


async def test_a_page_costs_what_the_page_needs_wherever_it_starts(parts: DriverParts) -> None:
    calls = _count(parts)
    page = await _list(parts, limit=1000, prefix="big/", start_after="big/k01700")
    assert page == BIG[1701:2500]
    assert calls["ListFiles"] <= 2, calls  # started at the cursor: the first 1,700 names are never read
    calls.clear()
    page = await _list(parts, limit=1000, delimiter="/", prefix="deep/", start_after="deep/d0600/")
    assert page[0] == "deep/d0601/" and len(page) == 599
    assert calls["ListFiles"] <= 2, calls
    calls.clear()
    page = await _list(parts, limit=1000, prefix="deep/")  # 1,000 directories of one file each
    assert page == sorted(k for k in DEEP + EXTRA if k.startswith("deep/"))[:1000]
    assert calls["ListFiles"] <= 6, calls  # runs of small directories come in one recursive call
    calls.clear()
    page = await _list(parts, limit=10, start_after="deep/d0700/f")
    assert page == [k for k in sorted(BIG + DEEP + EXTRA) if k > "deep/d0700/f"][:10]
    assert sum(calls.values()) <= 10, calls
