"""Corrupted chunks on download: a JSON 500 naming file and commit, or a cut connection mid-body."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
import pytest

from tusk_common.store.chunk import chunk_key
from tusk_common.store.manifest import unpack
from tusk_ingest.settings import IngestSettings

pytestmark = pytest.mark.timeout(60)


async def _upload(client: httpx.AsyncClient, repo: str, name: str, data: bytes) -> dict:
    r = await client.put(f"/repos/{repo}/refs/master/files/{name}", content=data)
    assert r.status_code == 201, r.text
    return r.json()


def _chunk_files(settings: IngestSettings, content: dict) -> list[Path]:
    refs = unpack(base64.b64decode(content["chunks"]), content_id=content["id"])
    return [Path(settings.store.path) / chunk_key(ref.hash) for ref in refs]


async def test_corruption_found_before_headers_is_500_naming_file_and_commit(
    client: httpx.AsyncClient, repo: str, settings: IngestSettings
) -> None:
    put = await _upload(client, repo, "dir/rotten.bin", os.urandom(50_000))
    (chunk,) = _chunk_files(settings, put["file"]["content"])
    chunk.write_bytes(b"\x00" + os.urandom(50_000))
    r = await client.get(f"/repos/{repo}/refs/master/files/dir/rotten.bin")
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["code"] == "corrupted"
    assert err["details"]["path"] == "/dir/rotten.bin"
    assert err["details"]["commit"] == put["commit"]["id"]
    assert err["details"]["content_id"] == put["file"]["content"]["id"]
    assert err["details"]["chunk"] == chunk.name
    assert "/dir/rotten.bin" in err["message"]


async def test_missing_chunk_is_corrupted_too(
    client: httpx.AsyncClient, repo: str, settings: IngestSettings
) -> None:
    put = await _upload(client, repo, "gone.bin", b"some bytes that will vanish")
    (chunk,) = _chunk_files(settings, put["file"]["content"])
    chunk.unlink()
    r = await client.get(f"/repos/{repo}/refs/master/files/gone.bin")
    assert r.status_code == 500 and r.json()["error"]["code"] == "corrupted"
    assert r.json()["error"]["details"]["path"] == "/gone.bin"


async def test_corruption_found_mid_stream_cuts_the_connection(
    client: httpx.AsyncClient, repo: str, settings: IngestSettings
) -> None:
    data = os.urandom(12 * 1024 * 1024)
    put = await _upload(client, repo, "big.bin", data)
    chunks = _chunk_files(settings, put["file"]["content"])
    assert len(chunks) > 6
    chunks[-1].write_bytes(b"\x00garbage")
    received = bytearray()
    with pytest.raises(httpx.HTTPError):  # RemoteProtocolError: body shorter than Content-Length
        async with client.stream("GET", f"/repos/{repo}/refs/master/files/big.bin") as resp:
            assert resp.status_code == 200
            assert resp.headers["content-length"] == str(len(data))
            async for block in resp.aiter_bytes():
                received += block
    assert len(received) < len(data)
    assert bytes(received) == data[: len(received)]
    # The server is still healthy after cutting that connection.
    assert (await client.get("/version")).status_code == 200
    # A range that avoids the bad chunk still works.
    r = await client.get(f"/repos/{repo}/refs/master/files/big.bin", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == data[:100]
