"""The seam where authentication and authorization will plug in (allow-all for now).

Every request gets a `Principal` from the `Authenticator` (today: anonymous), and every route is
checked with one call, `Authorizer.authorize(principal, action, resource)`, made by the route table's
wrapper before the handler runs (handlers that touch a second repo, such as copy, check it too). A real
implementation replaces the two objects in the composition root; no handler changes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web


class Action(enum.StrEnum):
    """What a request does to its resource; the unit permissions will be granted in."""

    SERVICE_READ = "service.read"
    REPO_LIST = "repo.list"
    REPO_CREATE = "repo.create"
    REPO_READ = "repo.read"
    REPO_WRITE = "repo.write"
    REPO_DELETE = "repo.delete"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking."""

    id: str
    anonymous: bool = False


ANONYMOUS = Principal(id="anonymous", anonymous=True)


@dataclass(frozen=True, slots=True)
class Resource:
    """What is asked about: nothing in particular (`repo=None`), or one repo."""

    repo: str | None = None


class Authenticator(Protocol):
    async def authenticate(self, request: web.Request) -> Principal:
        """The principal of a request; raises `Unauthorized` for bad credentials."""
        ...


class Authorizer(Protocol):
    async def authorize(self, principal: Principal, action: Action, resource: Resource) -> None:
        """Return when allowed; raise `Forbidden` (or `Unauthorized` for anonymous) otherwise."""
        ...


class AnonymousAuthenticator:
    """Everyone is anonymous until authentication lands."""

    async def authenticate(self, request: web.Request) -> Principal:
        return ANONYMOUS


class AllowAll:
    """Every principal may do everything until authorization lands."""

    async def authorize(self, principal: Principal, action: Action, resource: Resource) -> None:
        return None
