"""The REST paths of `/api/v1` (docs/api.md), built in one place with their URL encoding.

Refs (`master^2`) and every path segment (spaces, unicode, `#`, `?`) are percent-encoded so that no
character of a user's name can change the meaning of the URL.
"""

from __future__ import annotations

from urllib.parse import quote

from tusk_common.naming import normalize_path

API = "/api/v1"


def segment(value: str) -> str:
    """One URL path segment: everything but unreserved characters is percent-encoded."""
    return quote(value, safe="")


def file_path(path: str) -> str:
    """`/a b/c#1` -> `a%20b/c%231`; the root is the empty string (the API reads it as `/`)."""
    canonical = normalize_path(path)
    return "/".join(segment(part) for part in canonical.split("/")[1:] if part)


def version() -> str:
    return f"{API}/version"


def repos() -> str:
    return f"{API}/repos"


def repo(name: str) -> str:
    return f"{API}/repos/{segment(name)}"


def branches(repo_name: str) -> str:
    return f"{repo(repo_name)}/branches"


def branch(repo_name: str, name: str) -> str:
    return f"{branches(repo_name)}/{segment(name)}"


def commits(repo_name: str) -> str:
    return f"{repo(repo_name)}/commits"


def commit(repo_name: str, ref: str, action: str = "") -> str:
    url = f"{commits(repo_name)}/{segment(ref)}"
    return f"{url}/{action}" if action else url


def ref(repo_name: str, ref_name: str) -> str:
    return f"{repo(repo_name)}/refs/{segment(ref_name)}"


def files(repo_name: str, ref_name: str, path: str | None = None) -> str:
    """`.../files/{path}` for one file, or `.../files` (the multipart batch endpoint) without a path."""
    base = f"{ref(repo_name, ref_name)}/files"
    return base if path is None else f"{base}/{file_path(path)}"


def stat(repo_name: str, ref_name: str, path: str) -> str:
    return f"{ref(repo_name, ref_name)}/stat/{file_path(path)}"


def tree(repo_name: str, ref_name: str, path: str) -> str:
    return f"{ref(repo_name, ref_name)}/tree/{file_path(path)}"


def glob(repo_name: str, ref_name: str) -> str:
    return f"{ref(repo_name, ref_name)}/glob"


def diff(repo_name: str, ref_name: str) -> str:
    return f"{ref(repo_name, ref_name)}/diff"


def copy(repo_name: str, ref_name: str) -> str:
    return f"{ref(repo_name, ref_name)}/copy"


def pack(repo_name: str, ref_name: str) -> str:
    """The pack upload endpoint (many small files as one stream)."""
    return f"{ref(repo_name, ref_name)}/pack"


def chunking() -> str:
    return f"{API}/chunking"


def chunks(repo_name: str, action: str = "") -> str:
    """`.../chunks` (upload frames) or `.../chunks/missing`."""
    url = f"{repo(repo_name)}/chunks"
    return f"{url}/{action}" if action else url


def manifests(repo_name: str, ref_name: str) -> str:
    return f"{ref(repo_name, ref_name)}/manifests"
