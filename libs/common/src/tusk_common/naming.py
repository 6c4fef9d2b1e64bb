"""Validation of the names and paths users type: repos, branches, file paths, refs.

The versioning service is the authority; the edges (HTTP, S3, CLI) call the same functions so a bad
name fails fast with the same message wherever it enters.
"""

from __future__ import annotations

import re

from tusk_common.errors import Invalid

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
COMMIT_ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255


def check_name(value: str, *, field: str) -> str:
    """Repo and branch names: 1-63 of letters, digits, `_` and `-` (no dots: S3 buckets use them)."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise Invalid(
            f"{field} {value!r} is invalid: use 1-63 letters, digits, '_' or '-'",
            field=field,
        )
    return value


def is_commit_id(value: str) -> bool:
    return bool(COMMIT_ID_RE.match(value))


def normalize_path(value: str, *, field: str = "path", allow_root: bool = True) -> str:
    """Canonical absolute file path: starts with `/`, no `.`/`..`/empty parts, no NUL, no trailing `/`."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise Invalid(f"{field} {value!r} must start with '/'", field=field)
    if "\x00" in value:
        raise Invalid(f"{field} must not contain a NUL byte", field=field)
    if len(value.encode()) > MAX_PATH_BYTES:
        raise Invalid(f"{field} is longer than {MAX_PATH_BYTES} bytes", field=field)
    parts = value.split("/")[1:]
    if parts and parts[-1] == "":
        parts.pop()  # one trailing slash names the same directory
    for part in parts:
        if part in ("", ".", ".."):
            raise Invalid(
                f"{field} {value!r} must not contain empty, '.' or '..' components", field=field
            )
        if len(part.encode()) > MAX_COMPONENT_BYTES:
            raise Invalid(f"{field} has a component longer than {MAX_COMPONENT_BYTES} bytes", field=field)
    path = "/" + "/".join(parts)
    if path == "/" and not allow_root:
        raise Invalid(f"{field} must name a file, not '/'", field=field)
    return path


def split_ref(ref: str, *, field: str = "ref") -> tuple[str, int]:
    """`master^2` -> ("master", 2); `abc…` -> ("abc…", 0). Also accepts `master~2` as git does."""
    if not isinstance(ref, str) or not ref:
        raise Invalid(f"{field} must not be empty", field=field)
    base, ancestors = ref, 0
    m = re.match(r"^(.*?)((?:\^\d*|~\d*)+)$", ref)
    if m:
        base = m.group(1)
        for op in re.findall(r"[\^~]\d*", m.group(2)):
            ancestors += int(op[1:]) if len(op) > 1 else 1
    if not (NAME_RE.match(base) or COMMIT_ID_RE.match(base)):
        raise Invalid(f"{field} {ref!r} is not a branch, a commit id, or BRANCH^N", field=field)
    return base, ancestors
