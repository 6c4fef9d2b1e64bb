"""Uploads and downloads through the REST API, against the fake versioning responder."""

from __future__ import annotations

import base64
import hashlib
import os
from urllib.parse import quote

import httpx
import pytest
from fake_versioning import FakeVersioning

pytestmark = pytest.mark.timeout(60)


async def test_put_then_get_round_trips_bytes_and_metadata(client: httpx.AsyncClient, repo: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = await client.put(f"/repos/{repo}/refs/master/files/dir/a.bin", content=data)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["atomic"] is True
    assert body["commit"]["state"] == "finished"
    assert body["file"]["path"] == "/dir/a.bin"
    assert body["file"]["size"] == len(data)
    assert body["file"]["content"]["md5"] == hashlib.md5(data).hexdigest()

    got = await client.get(f"/repos/{repo}/refs/master/files/dir/a.bin")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-length"] == str(len(data))
    assert got.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert got.headers["accept-ranges"] == "bytes"
    assert got.headers["x-tusk-commit"] == body["commit"]["id"]
    assert got.headers["x-tusk-content-id"] == body["file"]["content"]["id"]
    assert got.headers["x-request-id"]


async def test_range_requests_return_206_with_content_range(client: httpx.AsyncClient, repo: str) -> None:
    data = os.urandom(5 * 1024 * 1024)
    url = f"/repos/{repo}/refs/master/files/r.bin"
    assert (await client.put(url, content=data)).status_code == 201
    size = len(data)
    cases = {
        "bytes=0-9": (0, 9),
        "bytes=1000000-3000000": (1_000_000, 3_000_000),
        f"bytes={size - 5}-": (size - 5, size - 1),
        "bytes=-100": (size - 100, size - 1),
        f"bytes=10-{size * 2}": (10, size - 1),
        "bytes=-999999999": (0, size - 1),
    }
    for header, (a, b) in cases.items():
        r = await client.get(url, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.content == data[a : b + 1], header
        assert r.headers["content-range"] == f"bytes {a}-{b}/{size}", header
        assert r.headers["content-length"] == str(b - a + 1)


async def test_unsatisfiable_range_is_416_invalid(client: httpx.AsyncClient, repo: str) -> None:
    url = f"/repos/{repo}/refs/master/files/small.txt"
    assert (await client.put(url, content=b"hello")).status_code == 201
    for header in ("bytes=5-", "bytes=100-200", "bytes=-0"):
        r = await client.get(url, headers={"Range": header})
        assert r.status_code == 416, header
        assert r.json()["error"]["code"] == "invalid"
        assert r.headers["content-range"] == "bytes */5"
    # A malformed or multi-range header is ignored: the whole file.
    for header in ("bytes=3-1", "bytes=0-1,3-4", "items=0-1"):
        r = await client.get(url, headers={"Range": header})
        assert r.status_code == 200 and r.content == b"hello", header


async def test_etag_and_if_none_match_give_304(client: httpx.AsyncClient, repo: str) -> None:
    url = f"/repos/{repo}/refs/master/files/e.txt"
    await client.put(url, content=b"etag me")
    r = await client.get(url)
    tag = r.headers["etag"]
    r2 = await client.get(url, headers={"If-None-Match": tag})
    assert r2.status_code == 304 and r2.content == b"" and r2.headers["etag"] == tag
    r3 = await client.get(url, headers={"If-None-Match": '"other", ' + tag})
    assert r3.status_code == 304
    r4 = await client.get(url, headers={"If-None-Match": '"other"'})
    assert r4.status_code == 200
    # If-Range with a stale tag ignores the range.
    r5 = await client.get(url, headers={"Range": "bytes=0-1", "If-Range": '"stale"'})
    assert r5.status_code == 200 and r5.content == b"etag me"
    r6 = await client.get(url, headers={"Range": "bytes=0-1", "If-Range": tag})
    assert r6.status_code == 206 and r6.content == b"et"


async def test_head_sends_headers_only(client: httpx.AsyncClient, repo: str) -> None:
    url = f"/repos/{repo}/refs/master/files/h.txt"
    await client.put(url, content=b"0123456789")
    r = await client.head(url)
    assert r.status_code == 200
    assert r.headers["content-length"] == "10"
    assert r.content == b""
    r = await client.head(url, headers={"Range": "bytes=2-4"})
    assert r.status_code == 206 and r.headers["content-length"] == "3"
    r = await client.head(f"/repos/{repo}/refs/master/files/missing")
    assert r.status_code == 404


async def test_empty_file_round_trips(client: httpx.AsyncClient, repo: str) -> None:
    url = f"/repos/{repo}/refs/master/files/empty"
    r = await client.put(url, content=b"")
    assert r.status_code == 201 and r.json()["file"]["size"] == 0
    got = await client.get(url)
    assert got.status_code == 200 and got.content == b"" and got.headers["content-length"] == "0"


async def test_directory_download_is_400(client: httpx.AsyncClient, repo: str) -> None:
    await client.put(f"/repos/{repo}/refs/master/files/d/x", content=b"x")
    r = await client.get(f"/repos/{repo}/refs/master/files/d")
    assert r.status_code == 400
    assert r.json()["error"]["details"]["field"] == "path"


async def test_content_md5_mismatch_is_400_and_stages_nothing(
    client: httpx.AsyncClient, repo: str, fake: FakeVersioning
) -> None:
    data = b"some bytes"
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = await client.put(f"/repos/{repo}/refs/master/files/m.txt", content=data, headers={"Content-MD5": wrong})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid" and err["details"]["field"] == "Content-MD5"
    assert "file.put" not in fake.calls
    good = base64.b64encode(hashlib.md5(data).digest()).decode()
    r = await client.put(f"/repos/{repo}/refs/master/files/m.txt", content=data, headers={"Content-MD5": good})
    assert r.status_code == 201
    r = await client.put(f"/repos/{repo}/refs/master/files/m.txt", content=data, headers={"Content-MD5": "!!"})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "Content-MD5"


async def test_append_extends_the_file_and_plain_put_when_missing(client: httpx.AsyncClient, repo: str) -> None:
    url = f"/repos/{repo}/refs/master/files/log.txt"
    r = await client.put(url, params={"append": "true"}, content=b"first\n")
    assert r.status_code == 201
    big = os.urandom(3 * 1024 * 1024)
    md5 = base64.b64encode(hashlib.md5(big).digest()).decode()
    r = await client.put(url, params={"append": "true"}, content=big, headers={"Content-MD5": md5})
    assert r.status_code == 201, r.text
    assert r.json()["file"]["size"] == 6 + len(big)
    got = await client.get(url)
    assert got.content == b"first\n" + big
    whole = b"first\n" + big
    assert got.headers["etag"] == f'"{hashlib.md5(whole).hexdigest()}"'


async def test_put_into_open_commit_is_not_atomic(client: httpx.AsyncClient, repo: str) -> None:
    c = await client.post(f"/repos/{repo}/commits", json={"branch": "master"})
    assert c.status_code == 201
    commit = c.json()["id"]
    r = await client.put(f"/repos/{repo}/refs/master/files/a", content=b"a")
    assert r.status_code == 201 and r.json()["atomic"] is False and r.json()["commit"]["id"] == commit
    r = await client.put(f"/repos/{repo}/refs/{commit}/files/b", content=b"b")
    assert r.json()["commit"]["id"] == commit
    f = await client.post(f"/repos/{repo}/commits/{commit}/finish", json={})
    assert f.status_code == 200 and f.json()["state"] == "finished"
    tree = await client.get(f"/repos/{repo}/refs/master/tree/")
    assert [e["path"] for e in tree.json()["files"]] == ["/a", "/b"]


@pytest.mark.parametrize("name", ["with space.txt", "ünïcödé/日本.csv", "hash#tag?q=1.txt", "100%.txt"])
async def test_paths_with_special_characters_round_trip(client: httpx.AsyncClient, repo: str, name: str) -> None:
    encoded = "/".join(quote(s, safe="") for s in name.split("/"))
    url = f"/repos/{repo}/refs/master/files/{encoded}"
    r = await client.put(url, content=name.encode())
    assert r.status_code == 201, r.text
    assert r.json()["file"]["path"] == "/" + name
    got = await client.get(url)
    assert got.status_code == 200 and got.content == name.encode()
    stat = await client.get(f"/repos/{repo}/refs/master/stat/{encoded}")
    assert stat.json()["path"] == "/" + name


async def test_ref_with_ancestor_is_percent_decoded(client: httpx.AsyncClient, repo: str) -> None:
    url = f"/repos/{repo}/refs/master/files/v.txt"
    await client.put(url, content=b"one")
    await client.put(url, content=b"two")
    r = await client.get(f"/repos/{repo}/refs/master%5E1/files/v.txt")
    assert r.status_code == 200 and r.content == b"one"
    r = await client.get(f"/repos/{repo}/commits/master%5E1")
    assert r.status_code == 200
