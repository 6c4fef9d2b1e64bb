"""End to end: the real versioning service (Postgres + NATS) in-process, ingest on a free port, REST calls."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from ingest_harness import make_settings, running_ingest

from tusk_common.embedded import NatsProcess
from tusk_common.service import running_service
from tusk_common.settings import ServiceSettings
from tusk_ingest.app import Ingest
from tusk_ingest.settings import IngestSettings

versioning_app = pytest.importorskip("tusk_versioning.app")
versioning_settings = pytest.importorskip("tusk_versioning.settings")

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def ingest_overrides() -> dict[str, object]:
    return {}


@pytest_asyncio.fixture
async def real_ingest(
    service_settings: ServiceSettings, nats_server: NatsProcess, tmp_path: Path,
    ingest_overrides: dict[str, object],
) -> AsyncIterator[Ingest]:
    vsettings = versioning_settings.VersioningSettings(
        nats=service_settings.nats, database=service_settings.database, store=service_settings.store,
        ops=service_settings.ops, schema_name=f"v_{uuid.uuid4().hex[:12]}",
    )
    isettings: IngestSettings = make_settings(
        nats_server.url, tmp_path, store=service_settings.store, **ingest_overrides
    )
    async with running_service("versioning", vsettings, versioning_app.build), running_ingest(isettings) as ing:
        yield ing


@pytest_asyncio.fixture
async def api(real_ingest: Ingest) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=real_ingest.url + "/api/v1", timeout=120.0) as c:
        r = await c.post("/repos", json={"name": "data"})
        assert r.status_code == 201, r.text
        yield c


async def test_put_get_ranges_and_metadata_through_real_versioning(api: httpx.AsyncClient) -> None:
    data = os.urandom(4 * 1024 * 1024 + 3)
    name = "dir with space/ünï#code?.bin"
    url = "/repos/data/refs/master/files/" + "/".join(quote(s, safe="") for s in name.split("/"))
    r = await api.put(url, content=data, params={"message": "first"})
    assert r.status_code == 201, r.text
    put = r.json()
    assert put["atomic"] is True and put["commit"]["state"] == "finished"
    assert put["commit"]["description"] == "first" and put["file"]["path"] == "/" + name

    got = await api.get(url)
    assert got.content == data and got.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert got.headers["x-tusk-commit"] == put["commit"]["id"]
    for header, (a, b) in {"bytes=0-0": (0, 0), "bytes=100-": (100, len(data) - 1),
                           "bytes=-10": (len(data) - 10, len(data) - 1)}.items():
        r = await api.get(url, headers={"Range": header})
        assert r.status_code == 206 and r.content == data[a : b + 1], header
    assert (await api.get(url, headers={"Range": f"bytes={len(data)}-"})).status_code == 416
    assert (await api.get(url, headers={"If-None-Match": got.headers["etag"]})).status_code == 304
    stat = (await api.get(url.replace("/files/", "/stat/"))).json()
    assert stat["size"] == len(data) and stat["content"]["id"] == put["file"]["content"]["id"]
    r = await api.get("/repos/data/refs/master/files/" + quote("dir with space"))
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "path"


async def test_append_and_history_through_real_versioning(api: httpx.AsyncClient) -> None:
    url = "/repos/data/refs/master/files/log.txt"
    assert (await api.put(url, content=b"one\n", params={"append": "true"})).status_code == 201
    assert (await api.put(url, content=b"two\n", params={"append": "true"})).status_code == 201
    assert (await api.get(url)).content == b"one\ntwo\n"
    assert (await api.get("/repos/data/refs/master%5E1/files/log.txt")).content == b"one\n"
    diff = (await api.get("/repos/data/refs/master/diff")).json()["changes"]
    assert [(c["path"], c["change"]) for c in diff] == [("/log.txt", "modified")]


async def test_multipart_batch_of_2000_files_lands_in_one_commit(api: httpx.AsyncClient) -> None:
    files = [("f", (f"batch/{i:05d}.txt", f"content {i}".encode(), "text/plain")) for i in range(2000)]
    r = await api.post("/repos/data/refs/master/files", files=files, params={"message": "bulk"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["files"] == 2000 and body["atomic"] is True and body["commit"]["state"] == "finished"
    commits = (await api.get("/repos/data/commits", params={"branch": "master"})).json()["commits"]
    assert len(commits) == 1 and commits[0]["id"] == body["commit"]["id"]
    tree = (await api.get("/repos/data/refs/master/tree/batch", params={"limit": 10_000})).json()
    assert len(tree["files"]) == 2000
    assert (await api.get("/repos/data/refs/master/files/batch/01234.txt")).content == b"content 1234"


@pytest.mark.parametrize("ingest_overrides", [{"batch_rpc_size": 10}])
async def test_batch_cut_short_leaves_no_commit_in_real_versioning(
    api: httpx.AsyncClient, real_ingest: Ingest, ingest_overrides: dict[str, object]
) -> None:
    await api.put("/repos/data/refs/master/files/keep.txt", content=b"keep")
    head = (await api.get("/repos/data/branches/master")).json()["head"]
    boundary = "xXbOuNdXx"
    _reader, writer = await asyncio.open_connection(real_ingest.host, real_ingest.port)
    writer.write((f"POST /api/v1/repos/data/refs/master/files HTTP/1.1\r\nHost: x\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 99999\r\n\r\n"
                  ).encode())
    for i in range(35):
        writer.write(f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="p{i}"\r\n\r\n'
                     f"x{i}\r\n".encode())
        await writer.drain()
        await asyncio.sleep(0.02)
    # by now a commit was started and two or three PutFiles staged into it
    for _ in range(100):
        commits = (await api.get("/repos/data/commits")).json()["commits"]
        if any(c["state"] == "open" for c in commits):
            break
        await asyncio.sleep(0.05)
    assert any(c["state"] == "open" for c in commits)
    writer.close()
    await writer.wait_closed()
    for _ in range(100):
        commits = (await api.get("/repos/data/commits")).json()["commits"]
        if all(c["state"] == "finished" for c in commits):
            break
        await asyncio.sleep(0.05)
    assert [c["id"] for c in commits] == [head]
    assert (await api.get("/repos/data/branches/master")).json()["head"] == head
    assert (await api.get("/repos/data/refs/master/stat/p0")).status_code == 404


async def test_open_commit_flow_and_errors_through_real_versioning(api: httpx.AsyncClient) -> None:
    c = await api.post("/repos/data/commits", json={"branch": "master", "description": "wip"})
    assert c.status_code == 201
    commit = c.json()["id"]
    r = await api.put("/repos/data/refs/master/files/a.csv", content=b"a")
    assert r.json()["atomic"] is False and r.json()["commit"]["id"] == commit
    r = await api.post("/repos/data/refs/master/files", files=[("f", ("b.csv", b"b", "text/csv"))])
    assert r.json()["atomic"] is False
    r = await api.post("/repos/data/refs/master/copy", json={"src_ref": commit, "src_path": "/a.csv",
                                                             "dst_path": "/c.csv"})
    assert r.status_code == 200, r.text
    wait = asyncio.create_task(api.get(f"/repos/data/commits/{commit}/wait", params={"timeout": 30}))
    await asyncio.sleep(0.2)
    f = await api.post(f"/repos/data/commits/{commit}/finish", json={})
    assert f.status_code == 200 and f.json()["state"] == "finished"
    assert (await wait).json()["state"] == "finished"
    glob = (await api.get("/repos/data/refs/master/glob", params={"pattern": "/*.csv"})).json()["files"]
    assert [g["path"] for g in glob] == ["/a.csv", "/b.csv", "/c.csv"]
    r = await api.delete("/repos/data/refs/master/files/b.csv")
    assert r.status_code == 200 and r.json()["atomic"] is True

    assert (await api.post("/repos", json={"name": "data"})).json()["error"]["code"] == "already_exists"
    r = await api.put(f"/repos/data/refs/{commit}/files/late", content=b"x")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = await api.get("/repos/none/refs/master/files/x")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await api.get(f"/repos/data/commits/{commit}/wait", params={"timeout": "0.5"})
    assert r.status_code == 200
    open_commit = (await api.post("/repos/data/commits", json={"branch": "master"})).json()["id"]
    r = await api.get(f"/repos/data/commits/{open_commit}/wait", params={"timeout": "0.5"})
    assert r.status_code == 408 and r.json()["error"]["code"] == "unavailable"
    assert (await api.delete(f"/repos/data/commits/{open_commit}")).status_code == 204
