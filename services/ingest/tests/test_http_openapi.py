"""The OpenAPI document: valid 3.1, generated from the route table, covering every route of docs/api.md."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from tusk_ingest.entrypoints.http.app import API_ROUTES
from tusk_ingest.openapi import document, openapi_path

pytestmark = pytest.mark.timeout(60)

API_MD = Path(__file__).resolve().parents[3] / "docs" / "api.md"
_ROW = re.compile(r"^\|\s*(GET|POST|PUT|DELETE|HEAD|PATCH)\s*\|\s*`(/api/v1/[^`]*)`", re.M)


def _documented_routes() -> set[tuple[str, str]]:
    """(method, path) of every row of the tables in docs/api.md; `HEAD | same` repeats the row above."""
    rows: set[tuple[str, str]] = set()
    last = ""
    for line in API_MD.read_text().splitlines():
        m = _ROW.match(line)
        if m:
            rows.add((m.group(1), m.group(2)))
            last = m.group(2)
        elif re.match(r"^\|\s*HEAD\s*\|\s*same", line):
            rows.add(("HEAD", last))
    return rows


async def test_openapi_json_is_a_valid_3_1_document(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_every_route_of_the_api_doc_is_served_and_documented() -> None:
    doc = document(API_ROUTES, version="test")
    served = {(r.method, openapi_path(r)) for r in API_ROUTES}
    in_doc = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    documented = _documented_routes()
    assert len(documented) >= 27
    assert documented <= served, documented - served
    assert served == in_doc


def test_operations_reference_generated_schemas() -> None:
    doc = document(API_ROUTES, version="test")
    schemas = doc["components"]["schemas"]
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    put = doc["paths"]["/api/v1/repos/{repo}/refs/{ref}/files/{path}"]["put"]
    assert put["requestBody"]["content"]["application/octet-stream"]
    assert put["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PutFileReply"}
    assert {"RepoInfo", "CommitInfo", "FileInfo", "FileContent", "ErrorReply"} <= set(schemas)
    assert schemas["CreateRepoBody"]["additionalProperties"] is False
    params = {p["name"] for p in put["parameters"]}
    assert {"repo", "ref", "path", "append", "message", "Content-MD5"} <= params
