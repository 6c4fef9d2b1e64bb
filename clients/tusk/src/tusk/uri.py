"""`repo@ref:/path`, the address grammar of the CLI (pachctl's): parsed and checked in one place.

`ref` is a branch, a commit id, or either followed by `^N` / `~N`. The path is optional where a command
allows it; a path without a leading `/` is read from the root, as pachctl does.
"""

from __future__ import annotations

from dataclasses import dataclass

from tusk_common.errors import Invalid
from tusk_common.naming import check_name, normalize_path, split_ref


@dataclass(frozen=True)
class Address:
    """A parsed `repo[@ref][:path]`; `path` is canonical, `dir_like` says the user typed a trailing `/`."""

    repo: str
    ref: str | None = None
    path: str | None = None
    dir_like: bool = False

    def __str__(self) -> str:
        text = self.repo
        if self.ref is not None:
            text += f"@{self.ref}"
        if self.path is not None:
            text += f":{self.path}"
        return text


def parse(
    text: str,
    *,
    need_ref: bool = False,
    need_path: bool = False,
    allow_path: bool = True,
    pattern: bool = False,
) -> Address:
    """Parse `repo[@ref][:path]`; with `pattern` the path is a glob, kept as typed (with a leading `/`)."""
    repo, sep, rest = text.partition("@")
    if not sep:
        repo, colon, path_part = text.partition(":")
        if colon:
            raise Invalid(f"{text!r} has a path but no ref: write REPO@REF:/PATH", field="address")
        ref_part = None
    else:
        ref_part, colon, path_part = rest.partition(":")
        if not ref_part:
            raise Invalid(f"{text!r} has an empty ref after '@'", field="address")
    if not repo:
        raise Invalid(f"{text!r} does not start with a repo name", field="address")
    check_name(repo, field="repo")
    if ref_part is not None:
        split_ref(ref_part)
    elif need_ref:
        raise Invalid(f"{text!r} needs a ref: write {repo}@BRANCH (or a commit id, or BRANCH^N)", field="address")
    if not colon:
        if need_path:
            raise Invalid(f"{text!r} needs a path: write {text}:/PATH", field="address")
        return Address(repo, ref_part)
    if not allow_path:
        raise Invalid(f"{text!r} must not have a path here", field="address")
    raw = path_part if path_part.startswith("/") else "/" + path_part
    if pattern:
        if raw == "/":
            raise Invalid(f"{text!r} needs a glob pattern after ':'", field="pattern")
        return Address(repo, ref_part, raw)
    path = normalize_path(raw)
    return Address(repo, ref_part, path, dir_like=raw.endswith("/"))
