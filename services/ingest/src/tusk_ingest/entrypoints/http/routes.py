"""The declarative route table: what the router serves, what is authorized, and what OpenAPI documents.

Each resource module exports `ROUTES`; `app.py` registers them (wrapped by `guarded`, the single point
where `authorize` is called) and `openapi.py` renders the same table, so the document cannot drift
from what is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from tusk_ingest.auth import Action, Resource
from tusk_ingest.entrypoints.http import state
from tusk_ingest.entrypoints.http.state import Handler

API_PREFIX = "/api/v1"

Media = Literal["json", "octet-stream", "multipart", "pack", "chunks"]  # pack, chunks: tusk_common.wire.bulk


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter or request header, as OpenAPI describes it."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    where: Literal["query", "header"] = "query"
    required: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of the API."""

    method: str
    path: str  # relative to /api/v1, aiohttp syntax: "/repos/{repo}", "/.../files/{path:.*}"
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    action: Action
    status: int = 200
    body: type[BaseModel] | None = None  # JSON request body
    body_media: Media | None = None  # non-JSON bodies (raw upload, multipart)
    reply: type[BaseModel] | None = None  # JSON reply; None with status 204 or a raw reply
    reply_media: Media = "json"
    query: tuple[Param, ...] = ()
    headers: tuple[Param, ...] = ()
    description: str = ""
    errors: tuple[int, ...] = field(default=(400, 404, 503))
    expect_handler: Callable[[web.Request], Awaitable[web.StreamResponse | None]] | None = None

    @property
    def url(self) -> str:
        return API_PREFIX + self.path


def q_bool(name: str, description: str) -> Param:
    return Param(name, {"type": "boolean", "default": False}, description)


def q_int(name: str, description: str, *, minimum: int = 1, maximum: int = 10_000) -> Param:
    return Param(name, {"type": "integer", "minimum": minimum, "maximum": maximum}, description)


def q_str(name: str, description: str) -> Param:
    return Param(name, {"type": "string"}, description)


PAGE = (q_int("limit", "page size"), q_str("cursor", "`next_cursor` of the previous page"))
MESSAGE = q_str("message", "description of the commit this write makes")


@web.middleware
async def principal_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve who is asking, once per request (anonymous until authentication lands)."""
    request[state.PRINCIPAL] = await state.deps(request).authenticator.authenticate(request)
    return await handler(request)


async def authorize(request: web.Request, action: Action, repo: str | None = None) -> None:
    """The one call point of authorization; raises `Unauthorized`/`Forbidden` when refused."""
    deps = state.deps(request)
    await deps.authorizer.authorize(request[state.PRINCIPAL], action, Resource(repo=repo))


def guarded(route: Route) -> Handler:
    """The route's handler, run only after its action on its repo (if any) is authorized."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await authorize(request, route.action, request.match_info.get("repo"))
        return await route.handler(request)

    handler.__name__ = route.operation_id
    return handler
