"""Reading a request: names, refs and file paths from the URL, query flags, JSON bodies, JSON replies.

File paths and refs are taken from the raw (still percent-encoded) URL and decoded one segment at a
time, so `%2F`, `%23` (`#`) and `%3F` (`?`) inside a name can never be mistaken for URL structure.
"""

from __future__ import annotations

import json
from typing import TypeVar
from urllib.parse import unquote

from aiohttp import web
from pydantic import BaseModel, ValidationError

from tusk_common import naming
from tusk_common.bus import validation_to_invalid
from tusk_common.errors import Invalid

M = TypeVar("M", bound=BaseModel)

# /api/v1/repos/{repo}/refs/{ref}/{marker}/{path...}: segment positions after splitting on "/"
_REPO, _REF, _MARKER = 4, 6, 7
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _segments(request: web.Request) -> list[str]:
    return request.rel_url.raw_path.split("/")


def _decode(segment: str, field: str) -> str:
    try:
        return unquote(segment, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise Invalid(f"{field} is not valid UTF-8 once percent-decoded", field=field) from exc


def repo(request: web.Request) -> str:
    return naming.check_name(_decode(_segments(request)[_REPO], "repo"), field="repo")


def name(request: web.Request, key: str, field: str) -> str:
    """A branch (or other) name from the route's match info."""
    return naming.check_name(request.match_info[key], field=field)


def ref(request: web.Request) -> str:
    """The `{ref}` of `/repos/{repo}/refs/{ref}/...` or `/repos/{repo}/commits/{ref}`."""
    value = _decode(_segments(request)[_REF], "ref")
    naming.split_ref(value, field="ref")
    return value


def file_path(request: web.Request, *, allow_root: bool = True) -> str:
    """Everything after the marker segment (`files`, `stat`, `tree`) as a canonical absolute path."""
    rest = _segments(request)[_MARKER + 1 :]
    return naming.normalize_path(
        "/" + "/".join(_decode(s, "path") for s in rest), field="path", allow_root=allow_root
    )


def path_query(request: web.Request, key: str, default: str = "/") -> str:
    return naming.normalize_path(request.query.get(key, default) or default, field=key)


def flag(request: web.Request, key: str) -> bool:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return False
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise Invalid(f"{key} must be true or false, not {raw!r}", field=key)


def integer(request: web.Request, key: str, default: int, *, lo: int = 1, hi: int = 10_000) -> int:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise Invalid(f"{key} must be an integer, not {raw!r}", field=key) from exc
    if not lo <= value <= hi:
        raise Invalid(f"{key} must be between {lo} and {hi}", field=key)
    return value


def number(request: web.Request, key: str, default: float, *, hi: float) -> float:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise Invalid(f"{key} must be a number, not {raw!r}", field=key) from exc
    if not 0 < value <= hi:
        raise Invalid(f"{key} must be more than 0 and at most {hi}", field=key)
    return value


def text(request: web.Request, key: str, default: str | None = None) -> str | None:
    raw = request.query.get(key)
    return default if raw is None or raw == "" else raw


async def body(request: web.Request, model: type[M]) -> M:
    """The JSON body as `model`; an empty body is `{}`. Errors name the offending field."""
    raw = await request.read()  # bounded by the app's client_max_size (413 past it)
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(f"the body is not valid JSON: {exc}", field="body") from exc
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_to_invalid(exc) from exc


def reply(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(status=status, body=model.model_dump_json().encode(), content_type="application/json")


def no_content() -> web.Response:
    return web.Response(status=204)
