"""The REST contract apart from file bytes: repos, branches, commits, listings, errors, ids, metrics."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fake_versioning import FakeVersioning
from ingest_harness import running_ingest

from tusk_common import errors
from tusk_common.embedded import NatsProcess
from tusk_ingest.app import Ingest

pytestmark = pytest.mark.timeout(60)


def _error(r: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    if field is not None:
        assert body["error"]["details"]["field"] == field
    return body["error"]


async def test_repo_lifecycle(client: httpx.AsyncClient) -> None:
    r = await client.post("/repos", json={"name": "images", "description": "cats"})
    assert r.status_code == 201 and r.json()["name"] == "images" and r.json()["description"] == "cats"
    _error(await client.post("/repos", json={"name": "images"}), 409, "already_exists")
    r = await client.post("/repos", json={"name": "images", "description": "dogs", "update": True})
    assert r.status_code == 201 and r.json()["description"] == "dogs"
    assert [x["name"] for x in (await client.get("/repos")).json()["repos"]] == ["images"]
    assert (await client.get("/repos/images")).json()["default_branch"] == "master"
    r = await client.delete("/repos/images", params={"force": "true"})
    assert r.status_code == 204 and r.content == b""
    _error(await client.get("/repos/images"), 404, "not_found")


async def test_branch_and_commit_lifecycle(client: httpx.AsyncClient, repo: str) -> None:
    await client.put(f"/repos/{repo}/refs/master/files/a", content=b"1")
    r = await client.post(f"/repos/{repo}/branches", json={"name": "dev", "head": "master"})
    assert r.status_code == 201 and r.json()["name"] == "dev" and r.json()["head"]
    assert [b["name"] for b in (await client.get(f"/repos/{repo}/branches")).json()["branches"]] == ["dev", "master"]
    assert (await client.get(f"/repos/{repo}/branches/dev")).json()["head"] == r.json()["head"]

    c = await client.post(f"/repos/{repo}/commits", json={"branch": "dev", "description": "wip"})
    assert c.status_code == 201 and c.json()["state"] == "open"
    commit = c.json()["id"]
    _error(await client.post(f"/repos/{repo}/commits", json={"branch": "dev"}), 409, "conflict")
    assert (await client.get(f"/repos/{repo}/commits/{commit}")).json()["description"] == "wip"

    waiter = asyncio.create_task(client.get(f"/repos/{repo}/commits/{commit}/wait", params={"timeout": 10}))
    await asyncio.sleep(0.2)
    assert not waiter.done()
    f = await client.post(f"/repos/{repo}/commits/dev/finish", json={"description": "done"})
    assert f.status_code == 200 and f.json()["state"] == "finished"
    w = await waiter
    assert w.status_code == 200 and w.json()["state"] == "finished"

    page = await client.get(f"/repos/{repo}/commits", params={"branch": "dev", "limit": 1})
    assert len(page.json()["commits"]) == 1 and page.json()["next_cursor"] is not None
    page2 = await client.get(f"/repos/{repo}/commits", params={"branch": "dev", "cursor": page.json()["next_cursor"]})
    assert page2.json()["next_cursor"] is None

    assert (await client.delete(f"/repos/{repo}/commits/{commit}")).status_code == 204
    assert (await client.delete(f"/repos/{repo}/branches/dev")).status_code == 204
    _error(await client.get(f"/repos/{repo}/branches/dev"), 404, "not_found")


async def test_wait_that_times_out_is_408_unavailable(client: httpx.AsyncClient, repo: str) -> None:
    commit = (await client.post(f"/repos/{repo}/commits", json={"branch": "master"})).json()["id"]
    r = await client.get(f"/repos/{repo}/commits/{commit}/wait", params={"timeout": "0.3"})
    _error(r, 408, "unavailable")
    _error(await client.get(f"/repos/{repo}/commits/{commit}/wait", params={"timeout": "-1"}), 400, "invalid",
           "timeout")


async def test_listing_glob_diff_delete_and_copy(client: httpx.AsyncClient, repo: str) -> None:
    for name in ("a.csv", "d/b.csv", "d/c.txt", "d/e/f.csv"):
        await client.put(f"/repos/{repo}/refs/master/files/{name}", content=name.encode())
    root = await client.get(f"/repos/{repo}/refs/master/tree/")
    assert [(f["path"], f["type"]) for f in root.json()["files"]] == [("/a.csv", "file"), ("/d", "dir")]
    rec = await client.get(f"/repos/{repo}/refs/master/tree/d", params={"recursive": "true", "limit": 2})
    assert [f["path"] for f in rec.json()["files"]] == ["/d/b.csv", "/d/c.txt"] and rec.json()["next_cursor"]
    stat = await client.get(f"/repos/{repo}/refs/master/stat/d")
    assert stat.json()["type"] == "dir" and stat.json()["file_count"] == 3
    glob = await client.get(f"/repos/{repo}/refs/master/glob", params={"pattern": "/**.csv"})
    assert [f["path"] for f in glob.json()["files"]] == ["/a.csv", "/d/b.csv", "/d/e/f.csv"]
    _error(await client.get(f"/repos/{repo}/refs/master/glob"), 400, "invalid", "pattern")

    r = await client.post(f"/repos/{repo}/refs/master/copy", json={"src_ref": "master", "src_path": "/d",
                                                                    "dst_path": "/copy"})
    assert r.status_code == 200 and r.json()["atomic"] is True
    assert (await client.get(f"/repos/{repo}/refs/master/files/copy/e/f.csv")).content == b"d/e/f.csv"
    diff = await client.get(f"/repos/{repo}/refs/master/diff")
    assert [(c["path"], c["change"]) for c in diff.json()["changes"]] == [
        ("/copy/b.csv", "added"), ("/copy/c.txt", "added"), ("/copy/e/f.csv", "added")]

    r = await client.delete(f"/repos/{repo}/refs/master/files/d")
    assert r.status_code == 200 and r.json()["atomic"] is True
    _error(await client.get(f"/repos/{repo}/refs/master/stat/d"), 404, "not_found")
    diff = await client.get(f"/repos/{repo}/refs/master/diff", params={"path": "/d"})
    assert {c["change"] for c in diff.json()["changes"]} == {"deleted"}


@pytest.mark.parametrize(
    ("request_args", "field"),
    [
        (("POST", "/repos", {"content": b"{not json"}), "body"),
        (("POST", "/repos", {"json": [1, 2]}), "body"),
        (("POST", "/repos", {"json": {}}), "name"),
        (("POST", "/repos", {"json": {"name": "ok", "bogus": 1}}), "bogus"),
        (("POST", "/repos", {"json": {"name": "has.dot"}}), "name"),
        (("POST", "/repos", {"json": {"name": 5}}), "name"),
        (("GET", "/repos/bad%20name", {}), "repo"),
        (("GET", "/repos/data/refs/no%20such/tree/", {}), "ref"),
        (("GET", "/repos/data/refs/master/files/a/%2E%2E/b", {}), "path"),
        (("GET", "/repos/data/refs/master/files/%FF", {}), "path"),
        (("PUT", "/repos/data/refs/master/files/", {"content": b"x"}), "path"),
        (("DELETE", "/repos/data", {"params": {"force": "maybe"}}), "force"),
        (("GET", "/repos/data/commits", {"params": {"limit": "0"}}), "limit"),
        (("GET", "/repos/data/commits", {"params": {"limit": "x"}}), "limit"),
        (("POST", "/repos/data/branches", {"json": {"name": "b", "head": "no good"}}), "head"),
        (("POST", "/repos/data/commits", {"json": {"branch": "master", "parent": "^^"}}), "parent"),
    ],
)
async def test_bad_input_is_400_naming_the_field(
    client: httpx.AsyncClient, repo: str, request_args: tuple, field: str
) -> None:
    method, url, kwargs = request_args
    _error(await client.request(method, url, **kwargs), 400, "invalid", field)


@pytest.mark.parametrize(
    "exc",
    [
        errors.Invalid("bad", field="x"), errors.Unauthorized("who"), errors.Forbidden("no"),
        errors.NotFound("gone"), errors.AlreadyExists("twice"), errors.Conflict("state"),
        errors.PreconditionFailed("stale"), errors.TooLarge("big"), errors.Corrupted("rot"),
        errors.Unavailable("down"), errors.Internal("oops"),
    ],
    ids=lambda e: e.code,
)
async def test_every_error_class_maps_to_its_status_and_code(
    client: httpx.AsyncClient, fake: FakeVersioning, exc: errors.TuskError
) -> None:
    fake.raise_next = exc
    err = _error(await client.get("/repos"), exc.http_status, exc.code)
    assert err["message"] == exc.message
    assert err["details"] == exc.details


async def test_unknown_route_and_method_are_json_errors(client: httpx.AsyncClient) -> None:
    _error(await client.get("/nope"), 404, "not_found")
    r = await client.patch("/repos")
    _error(r, 405, "invalid")
    assert "GET" in r.headers["allow"]


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    r = await client.get("/version", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert r.json() == {"version": r.json()["version"], "api": "v1"}
    r = await client.get("/nope")
    assert len(r.headers["x-request-id"]) == 32
    r = await client.get("/version", headers={"X-Request-Id": "bad id\twith junk"})
    assert r.headers["x-request-id"] != "bad id\twith junk"


async def test_nats_down_is_503_and_recovers(client: httpx.AsyncClient, ingest: Ingest,
                                             nats_server: NatsProcess) -> None:
    nc = ingest.deps.versioning._bus.nc
    nats_server.stop()
    for _ in range(50):
        if not nc.is_connected:
            break
        await asyncio.sleep(0.1)
    _error(await client.get("/repos"), 503, "unavailable")
    nats_server.start()
    for _ in range(100):
        r = await client.get("/repos")
        if r.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert r.status_code == 200


async def test_versioning_not_running_is_503(settings, nats_server: NatsProcess) -> None:  # type: ignore[no-untyped-def]
    async with running_ingest(settings) as handle, httpx.AsyncClient(base_url=handle.url) as c:
        err = _error(await c.get("/api/v1/repos"), 503, "unavailable")
        assert "versioning" in err["message"]


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient, ingest: Ingest) -> None:
    await client.get("/version")
    await client.get("/repos/nope")
    samples = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for m in ingest.deps.metrics.requests.collect() for s in m.samples if s.name.endswith("_total")
    }
    assert samples[("/api/v1/version", "GET", "200")] >= 1
    assert samples[("/api/v1/repos/{repo}", "GET", "404")] >= 1
