"""Large bodies stream through ingest without being held in memory."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading

import httpx
import psutil
import pytest

pytestmark = [pytest.mark.timeout(300)]

SIZE = 200 * 1024 * 1024
BLOCK = 1024 * 1024


class _PeakRss:
    """Samples this process's RSS in a thread (the event loop is busy with the transfer)."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


async def test_200_mib_upload_and_download_stream_with_small_memory_growth(
    client: httpx.AsyncClient, repo: str
) -> None:
    block = os.urandom(BLOCK)
    sent_md5 = hashlib.md5()

    async def body():
        for i in range(SIZE // BLOCK):
            piece = i.to_bytes(8, "big") + block[8:]  # distinct blocks: no dedup shortcut
            sent_md5.update(piece)
            yield piece
            await asyncio.sleep(0)

    url = f"/repos/{repo}/refs/master/files/stream.bin"
    with _PeakRss() as up:
        r = await client.put(url, content=body())
    assert r.status_code == 201, r.text
    assert r.json()["file"]["size"] == SIZE
    assert r.json()["file"]["content"]["md5"] == sent_md5.hexdigest()

    got_md5, got = hashlib.md5(), 0
    with _PeakRss() as down:
        async with client.stream("GET", url) as resp:
            assert resp.status_code == 200
            async for chunk in resp.aiter_raw(BLOCK):
                got_md5.update(chunk)
                got += len(chunk)
    assert got == SIZE and got_md5.hexdigest() == sent_md5.hexdigest()
    # Client, server and store share this process; a buffered body would add >= 200 MiB.
    assert up.growth < 80 * 1024 * 1024, up.growth
    assert down.growth < 80 * 1024 * 1024, down.growth
