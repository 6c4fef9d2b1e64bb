"""The OpenAPI 3.1 document of `/api/v1`, generated from the route table and the pydantic models.

Nothing here is written by hand per route: paths, parameters, bodies and replies come from `Route`
entries, schemas from `model_json_schema` (pydantic emits JSON Schema 2020-12, which OpenAPI 3.1 uses).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from tusk_common.wire.bulk import CHUNKS_MEDIA, PACK_MEDIA
from tusk_ingest.entrypoints.http.models import ErrorReply
from tusk_ingest.entrypoints.http.routes import Route

_VAR = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No content", 206: "Partial content", 304: "Not modified",
    400: "Invalid input (`invalid`; details.field names it)", 404: "Not found (`not_found`)",
    408: "Timed out (`unavailable`)", 409: "Already exists or conflicts (`already_exists`, `conflict`)",
    412: "Precondition failed", 413: "Too large (`too_large`)",
    416: "Range not satisfiable (`invalid`)", 500: "Internal error or corrupted data (`corrupted`)",
    503: "A dependency is down (`unavailable`)",
}
_PATH_DOC = {
    "repo": "repo name",
    "branch": "branch name",
    "ref": "a branch, a commit id, or either with ^N / ~N; URL-encoded (master%5E2)",
    "path": "file path without its leading '/'; each segment URL-encoded; empty means '/'",
}
_MEDIA = {"json": "application/json", "octet-stream": "application/octet-stream",
          "multipart": "multipart/form-data", "pack": PACK_MEDIA, "chunks": CHUNKS_MEDIA}


def openapi_path(route: Route) -> str:
    """`/api/v1/repos/{repo}/refs/{ref}/files/{path:.*}` -> `.../files/{path}`."""
    return _VAR.sub(lambda m: "{" + m.group(1) + "}", route.url)


class _Schemas:
    """Component schemas of every body (validation mode) and reply (serialization mode) model."""

    def __init__(self, routes: list[Route]) -> None:
        keys: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorReply, "serialization"): None}
        for route in routes:
            if route.body is not None:
                keys[(route.body, "validation")] = None
            if route.reply is not None:
                keys[(route.reply, "serialization")] = None
        refs, top = models_json_schema(list(keys), ref_template=_REF)
        self._refs = refs
        self.components = dict(sorted(top.get("$defs", {}).items()))

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self._refs[(model, mode)])


def _operation(route: Route, schemas: _Schemas) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary, "tags": [route.tag]}
    if route.description:
        op["description"] = route.description
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
         "description": _PATH_DOC.get(name, name)}
        for name in _VAR.findall(route.path)
    ]
    parameters += [
        {"name": p.name, "in": p.where, "required": p.required, "schema": p.schema,
         **({"description": p.description} if p.description else {})}
        for p in (*route.query, *route.headers)
    ]
    if parameters:
        op["parameters"] = parameters
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schemas.ref(route.body, "validation")}}}
    elif route.body_media in ("octet-stream", "pack", "chunks"):
        op["requestBody"] = {"required": True, "content": {
            _MEDIA[route.body_media]: {"schema": {"type": "string", "format": "binary"}}}}
    elif route.body_media == "multipart":
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "additionalProperties": {"type": "string", "format": "binary"}}}}}
    op["responses"] = _responses(route, schemas)
    return op


def _responses(route: Route, schemas: _Schemas) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": _STATUS_TEXT.get(route.status, "OK")}
    if route.reply is not None:
        ok["content"] = {"application/json": {"schema": schemas.ref(route.reply, "serialization")}}
    elif route.reply_media == "octet-stream" and route.method != "HEAD":
        ok["content"] = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    elif route.status != 204 and route.method != "HEAD":
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    responses: dict[str, Any] = {str(route.status): ok}
    if route.reply_media == "octet-stream":
        responses["206"] = {"description": _STATUS_TEXT[206]}
        responses["304"] = {"description": _STATUS_TEXT[304]}
    error = {"application/json": {"schema": schemas.ref(ErrorReply, "serialization")}}
    for status in route.errors:
        body = {} if route.method == "HEAD" else {"content": error}
        responses[str(status)] = {"description": _STATUS_TEXT.get(status, "Error"), **body}
    return responses


def document(routes: Iterable[Route], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing `routes`."""
    routes = list(routes)
    schemas = _Schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(openapi_path(route), {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tusk REST API",
            "version": version,
            "description": "Data versioning: repos, branches, commits and files. Errors are "
                           '`{"error": {"code", "message", "details"}}`.',
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": t} for t in dict.fromkeys(r.tag for r in routes)],
        "paths": paths,
        "components": {"schemas": schemas.components},
    }


def render(routes: Iterable[Route], *, version: str) -> bytes:
    return json.dumps(document(routes, version=version), indent=1, sort_keys=False).encode()
