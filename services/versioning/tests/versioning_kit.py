"""Builders shared by the versioning service tests (a module name unique in the workspace)."""

from __future__ import annotations

import hashlib

from tusk_common.wire.versioning import FileChange, FileContent


def content(data: str | bytes) -> FileContent:
    raw = data.encode() if isinstance(data, str) else data
    return FileContent(id=hashlib.blake2b(raw, digest_size=32).hexdigest(), size=len(raw),
                       md5=hashlib.md5(raw).hexdigest())  # fmt: skip


def put(path: str, data: str | bytes = "x") -> FileChange:
    return FileChange(op="put", path=path, content=content(data))


def delete(path: str) -> FileChange:
    return FileChange(op="delete", path=path)
