"""Builders for the domain tests: specs from short dicts, snapshots from path lists."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from tusk_scheduler.domain.datums import Datum, FileEntry, Snapshot
from tusk_scheduler.domain.spec import PipelineSpec, spec_from_dict


def content(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def snap(
    repo: str,
    files: Mapping[str, str] | Iterable[str],
    *,
    branch: str = "master",
    commit: str = "c1",
    dirs: Iterable[str] = (),
) -> Snapshot:
    """A snapshot whose files hash to their path (a list) or to the given text (a mapping)."""
    items = files.items() if isinstance(files, Mapping) else ((p, p) for p in files)
    listing: dict[str, FileEntry] = {p: FileEntry("file", content(text), len(text)) for p, text in items}
    listing.update({d: FileEntry("dir", "", 0) for d in dirs})
    return Snapshot(repo=repo, branch=branch, commit=commit, files=listing)


def spec(input_: dict[str, Any], name: str = "p", **extra: Any) -> PipelineSpec:
    return spec_from_dict(
        {"pipeline": {"name": name}, "input": input_, "transform": {"cmd": ["true"]}, **extra}
    )


def pfs(repo: str, glob: str, **extra: Any) -> dict[str, Any]:
    return {"pfs": {"repo": repo, "glob": glob, **extra}}


def shape(datums: Iterable[Datum]) -> list[tuple[tuple[str, str], ...]]:
    """Each datum as its ((input name, path), ...): what the tests compare."""
    return [tuple((i.name, i.path) for i in d.inputs) for d in datums]
