"""Bulk uploads: pack streams of many files, and the chunk protocol (missing, upload, commit manifests)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os

import blake3
import httpx
import pytest
from fake_versioning import FakeVersioning

from tusk_common.store.chunker import Chunker
from tusk_common.store.manifest import pack
from tusk_common.wire import bulk
from tusk_ingest.app import Ingest

pytestmark = pytest.mark.timeout(120)


def pack_body(files: dict[str, bytes], *, end: bool = True) -> bytes:
    out = [bulk.PACK_MAGIC]
    for path, data in files.items():
        out += [bulk.pack_record(path, len(data)), data]
    if end:
        out.append(bulk.pack_end())
    return b"".join(out)


def frames(chunks: list[tuple[bytes, bytes]], *, end: bool = True) -> bytes:
    out = [bulk.CHUNKS_MAGIC]
    for digest, data in chunks:
        out += [bulk.frame_header(digest, len(data)), data]
    if end:
        out.append(bulk.frames_end())
    return b"".join(out)


PACK = {"Content-Type": bulk.PACK_MEDIA}
CHUNKS = {"Content-Type": bulk.CHUNKS_MEDIA}


# ------------------------------------------------------------------ packs


async def test_a_pack_of_2000_files_is_one_commit_with_every_byte(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning
) -> None:
    files = {f"/dir/{i:05d}.txt": os.urandom(i % 300) for i in range(2000)}
    files["/big.bin"] = os.urandom(3 * 1024 * 1024)  # above small_file_bytes: streamed
    r = await client.post(f"/repos/{repo}/refs/master/pack", content=pack_body(files), headers=PACK,
                          params={"message": "packed"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["files"] == 2001 and body["atomic"] is True
    assert body["bytes"] == sum(len(d) for d in files.values())
    assert body["commit"]["state"] == "finished" and body["commit"]["description"] == "packed"
    assert fake.calls == ["commit.start", "file.put", "file.put", "file.put", "commit.finish"]
    for name in ("/dir/00000.txt", "/dir/01999.txt", "/big.bin"):
        got = await client.get(f"/repos/{repo}/refs/master/files{name}")
        assert got.content == files[name]
    stat = (await client.get(f"/repos/{repo}/refs/master/stat/dir/00042.txt")).json()
    assert stat["content"]["md5"] == hashlib.md5(files["/dir/00042.txt"]).hexdigest()


async def test_a_small_pack_is_a_single_atomic_rpc_with_relative_paths(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning
) -> None:
    r = await client.post(f"/repos/{repo}/refs/master/pack", headers=PACK, params={"prefix": "/in"},
                          content=pack_body({"a.txt": b"a", "/abs.txt": b"b", "sub/c d#.txt": b"c"}))
    assert r.status_code == 201, r.text
    assert fake.calls == ["file.put"]
    listing = (await client.get(f"/repos/{repo}/refs/master/tree/", params={"recursive": "true"})).json()
    assert sorted(f["path"] for f in listing["files"]) == ["/abs.txt", "/in/a.txt", "/in/sub/c d#.txt"]


@pytest.mark.parametrize("ingest_overrides", [{"batch_rpc_size": 10}])
@pytest.mark.parametrize("cut", ["in_a_file", "before_the_end_record"])
async def test_a_pack_cut_short_stages_nothing_and_leaves_no_commit(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning, cut: str, ingest_overrides: dict[str, object]
) -> None:
    files = {f"/f{i}": os.urandom(50) for i in range(25)}  # 3 RPCs' worth: a commit gets started
    body = pack_body(files, end=False)
    if cut == "in_a_file":
        body = body[:-20]
    r = await client.post(f"/repos/{repo}/refs/master/pack", content=body, headers=PACK)
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "body"
    assert "commit.delete" in fake.calls
    commits = (await client.get(f"/repos/{repo}/commits", params={"branch": "master"})).json()["commits"]
    assert commits == []


async def test_a_pack_with_a_bad_path_magic_or_media_type_is_invalid(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning
) -> None:
    url = f"/repos/{repo}/refs/master/pack"
    r = await client.post(url, content=pack_body({"/../x": b"1"}), headers=PACK)
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "path"
    r = await client.post(url, content=b"NOPE" + pack_body({"/x": b"1"})[4:], headers=PACK)
    assert r.status_code == 400
    r = await client.post(url, content=pack_body({"/x": b"1"}), headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "Content-Type"
    r = await client.post(url, content=pack_body({}), headers=PACK)
    assert r.status_code == 400
    assert "file.put" not in fake.calls


# ------------------------------------------------------------------ chunk protocol


async def _cut(client: httpx.AsyncClient, data: bytes) -> list[tuple[bytes, bytes]]:
    params = (await client.get("/chunking")).json()
    assert params["chunker"] == "fastcdc-2020" and params["hash"] == "blake3"
    c = Chunker(params["min"], params["avg"], params["max"])
    return [(blake3.blake3(x).digest(), bytes(x)) for x in [*c.feed(data), *c.finish()]]


def _manifest(chunks: list[tuple[bytes, bytes]]) -> str:
    return base64.b64encode(pack((d, len(x)) for d, x in chunks)).decode()


async def test_chunks_then_a_manifest_make_the_file_a_streamed_upload_makes(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning
) -> None:
    data = os.urandom(5 * 1024 * 1024 + 123)
    chunks = await _cut(client, data)
    hexes = [d.hex() for d, _ in chunks]
    r = await client.post(f"/repos/{repo}/chunks/missing", json={"chunks": hexes})
    assert r.status_code == 200 and r.json()["missing"] == hexes
    r = await client.post(f"/repos/{repo}/chunks", content=frames(chunks), headers=CHUNKS)
    assert r.status_code == 200, r.text
    assert r.json() == {"chunks": len(chunks), "bytes": len(data)}
    assert (await client.post(f"/repos/{repo}/chunks/missing", json={"chunks": hexes})).json()["missing"] == []
    r = await client.post(f"/repos/{repo}/refs/master/manifests", params={"message": "by chunks"},
                          json={"files": [{"path": "/big.bin", "manifest": _manifest(chunks)}]})
    assert r.status_code == 201, r.text
    assert r.json()["files"] == 1 and r.json()["bytes"] == len(data) and r.json()["atomic"] is True
    got = await client.get(f"/repos/{repo}/refs/master/files/big.bin")
    assert got.content == data
    streamed = await client.put(f"/repos/{repo}/refs/master/files/streamed.bin", content=data)
    assert streamed.json()["file"]["content"]["id"] == got.headers["X-Tusk-Content-Id"]


async def test_an_edited_file_needs_only_its_new_chunks(client: httpx.AsyncClient, repo: str) -> None:
    data = bytearray(os.urandom(8 * 1024 * 1024))
    first = await _cut(client, bytes(data))
    await client.post(f"/repos/{repo}/chunks", content=frames(first), headers=CHUNKS)
    data[4_000_000:4_000_100] = os.urandom(100)
    second = await _cut(client, bytes(data))
    r = await client.post(f"/repos/{repo}/chunks/missing", json={"chunks": [d.hex() for d, _ in second]})
    assert 1 <= len(r.json()["missing"]) <= 3


async def test_a_chunk_that_does_not_match_its_digest_fails_the_upload(
    client: httpx.AsyncClient, repo: str
) -> None:
    good = os.urandom(1000)
    digest = blake3.blake3(good).digest()
    r = await client.post(f"/repos/{repo}/chunks", content=frames([(digest, os.urandom(1000))]), headers=CHUNKS)
    assert r.status_code == 400 and r.json()["error"]["details"]["chunk"] == digest.hex()
    r = await client.post(f"/repos/{repo}/chunks/missing", json={"chunks": [digest.hex()]})
    assert r.json()["missing"] == [digest.hex()]
    r = await client.post(f"/repos/{repo}/chunks", content=frames([(digest, good)], end=False), headers=CHUNKS)
    assert r.status_code == 400


async def test_a_manifest_naming_a_chunk_the_store_lacks_is_refused(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning
) -> None:
    stored = os.urandom(2000)
    await client.post(f"/repos/{repo}/chunks", content=frames([(blake3.blake3(stored).digest(), stored)]),
                      headers=CHUNKS)
    absent = os.urandom(3000)
    chunks = [(blake3.blake3(stored).digest(), stored), (blake3.blake3(absent).digest(), absent)]
    r = await client.post(f"/repos/{repo}/refs/master/manifests",
                          json={"files": [{"path": "/x", "manifest": _manifest(chunks)}]})
    assert r.status_code == 409
    assert r.json()["error"]["details"]["missing"] == [chunks[1][0].hex()]
    wrong = [(chunks[0][0], stored[:1999])]  # a length the stored chunk does not have
    r = await client.post(f"/repos/{repo}/refs/master/manifests",
                          json={"files": [{"path": "/x", "manifest": _manifest(wrong)}]})
    assert r.status_code == 400
    r = await client.post(f"/repos/{repo}/refs/master/manifests",
                          json={"files": [{"path": "/x", "manifest": "not base64!"}]})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "files.0.manifest"
    assert "file.put" not in fake.calls


async def test_chunk_uploads_run_concurrently_with_reads(client: httpx.AsyncClient, repo: str) -> None:
    blobs = [os.urandom(300_000) for _ in range(6)]
    bodies = [frames([(blake3.blake3(b).digest(), b)]) for b in blobs]
    replies = await asyncio.gather(*(client.post(f"/repos/{repo}/chunks", content=b, headers=CHUNKS)
                                     for b in bodies))
    assert all(r.status_code == 200 for r in replies)


async def test_the_openapi_document_lists_the_bulk_endpoints(client: httpx.AsyncClient, ingest: Ingest) -> None:
    doc = (await client.get("/openapi.json")).json()
    pack_op = doc["paths"]["/api/v1/repos/{repo}/refs/{ref}/pack"]["post"]
    assert bulk.PACK_MEDIA in pack_op["requestBody"]["content"]
    assert bulk.CHUNKS_MEDIA in doc["paths"]["/api/v1/repos/{repo}/chunks"]["post"]["requestBody"]["content"]
    assert "/api/v1/repos/{repo}/refs/{ref}/manifests" in doc["paths"]
    assert "/api/v1/chunking" in doc["paths"]
