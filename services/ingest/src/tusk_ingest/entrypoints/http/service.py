"""`/api/v1/version` and `/api/v1/openapi.json`."""

from __future__ import annotations

from aiohttp import web

from tusk_common.service import tusk_version
from tusk_ingest.auth import Action
from tusk_ingest.entrypoints.http import params
from tusk_ingest.entrypoints.http.models import VersionReply
from tusk_ingest.entrypoints.http.routes import Route
from tusk_ingest.entrypoints.http.state import OPENAPI


async def version(request: web.Request) -> web.Response:
    return params.reply(VersionReply(version=tusk_version(), api="v1"))


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.config_dict[OPENAPI], content_type="application/json")


ROUTES = (
    Route("GET", "/version", version, "getVersion", "Version of the server and API", "service",
          Action.SERVICE_READ, reply=VersionReply, errors=()),
    Route("GET", "/openapi.json", openapi, "getOpenapi", "This OpenAPI document", "service",
          Action.SERVICE_READ, errors=()),
)
