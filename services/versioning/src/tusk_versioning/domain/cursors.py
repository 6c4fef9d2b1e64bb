"""Opaque pagination cursors: base64url of a small JSON value, checked on the way back in."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from tusk_common.errors import Invalid


def encode_cursor(kind: str, value: Any) -> str:
    raw = json.dumps([kind, value], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str) -> Any:
    """The value inside a cursor made by `encode_cursor(kind, ...)`; None for no cursor."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_kind, value = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise Invalid("cursor is not one this service returned", field="cursor") from None
    if got_kind != kind:
        raise Invalid("cursor belongs to another listing", field="cursor")
    return value


def encode_path_cursor(parts: tuple[str, ...]) -> str:
    return encode_cursor("path", list(parts))


def decode_path_cursor(cursor: str | None) -> tuple[str, ...] | None:
    value = decode_cursor(cursor, "path")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise Invalid("cursor is not one this service returned", field="cursor")
    return tuple(value)
