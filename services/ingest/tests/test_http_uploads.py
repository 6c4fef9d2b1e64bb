"""Uploads that must fail safely: cut short, too large, broken multipart; and multipart batches."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from fake_versioning import FakeVersioning

from tusk_ingest.app import Ingest

pytestmark = pytest.mark.timeout(120)


async def _requests_seen(ingest: Ingest, method: str) -> float:
    total = 0.0
    for metric in ingest.deps.metrics.requests.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels["method"] == method:
                total += sample.value
    return total


async def _wait_for_request(ingest: Ingest, method: str, count: float = 1) -> None:
    for _ in range(200):
        if await _requests_seen(ingest, method) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"ingest never finished a {method} request")


async def _raw_request(ingest: Ingest, head: bytes, body: bytes) -> None:
    _reader, writer = await asyncio.open_connection(ingest.host, ingest.port)
    writer.write(head + body)
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize("chunked", [False, True])
async def test_truncated_upload_stages_nothing(
    ingest: Ingest, client: httpx.AsyncClient, repo: str, fake: FakeVersioning, chunked: bool
) -> None:
    path = f"/api/v1/repos/{repo}/refs/master/files/cut.bin"
    if chunked:
        head = f"PUT {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        block = os.urandom(3 * 1024 * 1024)
        body = f"{len(block):x}\r\n".encode() + block + b"\r\n"  # no terminating 0-chunk
    else:
        head = f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n".encode()
        body = os.urandom(3 * 1024 * 1024)
    await _raw_request(ingest, head, body)
    await _wait_for_request(ingest, "PUT")
    assert "file.put" not in fake.calls
    r = await client.get(f"/repos/{repo}/refs/master/files/cut.bin")
    assert r.status_code == 404


@pytest.mark.parametrize("ingest_overrides", [{"max_upload_bytes": 1000}])
async def test_upload_over_the_limit_is_413(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning, ingest_overrides: dict[str, object]
) -> None:
    url = f"/repos/{repo}/refs/master/files/big"
    r = await client.put(url, content=b"x" * 1001)  # Content-Length checked up front
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"

    async def chunks():  # chunked: no Content-Length, caught while streaming
        for _ in range(5):
            yield b"y" * 300

    r = await client.put(url, content=chunks())
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    r = await client.put(url, content=b"z" * 1000)
    assert r.status_code == 201
    assert fake.calls.count("file.put") == 1


@pytest.mark.parametrize("ingest_overrides", [{"max_upload_bytes": 1000}])
async def test_expect_100_continue_refuses_oversized_upload_before_the_body(
    ingest: Ingest, repo: str, ingest_overrides: dict[str, object]
) -> None:
    reader, writer = await asyncio.open_connection(ingest.host, ingest.port)
    writer.write(
        f"PUT /api/v1/repos/{repo}/refs/master/files/big HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n".encode()
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert b" 413 " in status


async def test_expect_100_continue_accepts_an_upload_within_the_limit(ingest: Ingest, repo: str) -> None:
    reader, writer = await asyncio.open_connection(ingest.host, ingest.port)
    writer.write(
        f"PUT /api/v1/repos/{repo}/refs/master/files/ok HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    assert b" 100 " in await asyncio.wait_for(reader.readline(), 5)
    assert await asyncio.wait_for(reader.readline(), 5) == b"\r\n"
    writer.write(b"hello")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert b" 201 " in status


def _multipart(files: dict[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("file", (name, data, "application/octet-stream")) for name, data in files.items()]


async def test_multipart_batch_of_2000_small_files_is_one_commit(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning
) -> None:
    files = {f"dir/{i:05d}.txt": os.urandom(100 + i % 50) for i in range(2000)}
    r = await client.post(f"/repos/{repo}/refs/master/files", files=_multipart(files),
                          params={"message": "bulk"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["files"] == 2000 and body["atomic"] is True
    assert body["bytes"] == sum(len(d) for d in files.values())
    assert body["commit"]["state"] == "finished" and body["commit"]["file_count"] == 2000
    assert body["commit"]["description"] == "bulk"
    # batch_rpc_size 1000 -> a commit started, two PutFiles, finished
    assert fake.calls == ["commit.start", "file.put", "file.put", "commit.finish"]
    commits = (await client.get(f"/repos/{repo}/commits", params={"branch": "master"})).json()["commits"]
    assert len(commits) == 1
    for name in ("dir/00000.txt", "dir/01999.txt"):
        got = await client.get(f"/repos/{repo}/refs/master/files/{name}")
        assert got.content == files[name]


async def test_multipart_small_batch_is_a_single_atomic_rpc(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning
) -> None:
    big = os.urandom(5 * 1024 * 1024)  # streamed, not buffered
    parts = _multipart({"/abs/one.txt": b"1", "rel.txt": b"22", "large.bin": big})
    parts.append(("note", ("", b"not a file", "text/plain")))
    r = await client.post(f"/repos/{repo}/refs/master/files", files=parts, params={"prefix": "/pre"})
    assert r.status_code == 201, r.text
    assert r.json()["files"] == 3 and r.json()["atomic"] is True
    assert fake.calls == ["file.put"]
    tree = await client.get(f"/repos/{repo}/refs/master/tree/", params={"recursive": "true"})
    assert sorted(f["path"] for f in tree.json()["files"]) == ["/abs/one.txt", "/pre/large.bin", "/pre/rel.txt"]
    got = await client.get(f"/repos/{repo}/refs/master/files/pre/large.bin")
    assert got.content == big


@pytest.mark.parametrize("ingest_overrides", [{"batch_rpc_size": 10}])
async def test_failed_multi_rpc_batch_leaves_no_commit(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning, ingest_overrides: dict[str, object]
) -> None:
    fake.fail_puts_after = 2
    files = {f"f{i}": b"x" * i for i in range(35)}
    r = await client.post(f"/repos/{repo}/refs/master/files", files=_multipart(files))
    assert r.status_code == 503
    assert fake.calls[:1] == ["commit.start"] and fake.calls[-1] == "commit.delete"
    assert "commit.finish" not in fake.calls
    branch = (await client.get(f"/repos/{repo}/branches/master")).json()
    assert branch["head"] is None
    assert fake.commits == {}


@pytest.mark.parametrize("ingest_overrides", [{"batch_rpc_size": 10}])
async def test_multipart_cut_short_after_some_rpcs_leaves_no_commit(
    ingest: Ingest, client: httpx.AsyncClient, repo: str, fake: FakeVersioning,
    ingest_overrides: dict[str, object],
) -> None:
    boundary = "b0undary"
    path = f"/api/v1/repos/{repo}/refs/master/files"
    _reader, writer = await asyncio.open_connection(ingest.host, ingest.port)
    writer.write((f"POST {path} HTTP/1.1\r\nHost: x\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                  "Content-Length: 100000\r\n\r\n").encode())
    for i in range(40):  # a part is parsed once the next one arrives, so send them over time
        writer.write(f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="f{i}"\r\n\r\n'
                     f"data{i}\r\n".encode())
        await writer.drain()
        await asyncio.sleep(0.01)
    for _ in range(100):
        if fake.calls.count("file.put") >= 3:
            break
        await asyncio.sleep(0.05)
    assert fake.calls == ["commit.start", "file.put", "file.put", "file.put"]
    writer.close()  # never sends the closing boundary
    await writer.wait_closed()
    await _wait_for_request(ingest, "POST", 2)  # repo creation + the batch
    assert fake.calls[-1] == "commit.delete" and "commit.finish" not in fake.calls
    assert fake.commits == {}


async def test_multipart_filenames_with_unicode_spaces_and_hashes(client: httpx.AsyncClient, repo: str) -> None:
    names = ["ünï cödé/日本 #1.txt", "/top level?.csv"]
    r = await client.post(f"/repos/{repo}/refs/master/files", files=_multipart({n: n.encode() for n in names}))
    assert r.status_code == 201, r.text
    tree = await client.get(f"/repos/{repo}/refs/master/tree/", params={"recursive": "true"})
    assert sorted(f["path"] for f in tree.json()["files"]) == ["/top level?.csv", "/ünï cödé/日本 #1.txt"]


async def test_multipart_without_file_parts_is_invalid(client: httpx.AsyncClient, repo: str) -> None:
    r = await client.post(f"/repos/{repo}/refs/master/files", files=[("note", ("", b"x", "text/plain"))])
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "body"
    r = await client.post(f"/repos/{repo}/refs/master/files", content=b"raw")
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "Content-Type"
    r = await client.post(f"/repos/{repo}/refs/master/files", files=_multipart({"../x": b"1"}))
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "filename"


async def test_batch_into_an_open_commit_stages_without_finishing(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning
) -> None:
    commit = (await client.post(f"/repos/{repo}/commits", json={"branch": "master"})).json()["id"]
    r = await client.post(f"/repos/{repo}/refs/master/files", files=_multipart({"a": b"1", "b": b"2"}))
    assert r.status_code == 201 and r.json()["atomic"] is False
    assert r.json()["commit"]["id"] == commit and r.json()["commit"]["state"] == "open"
