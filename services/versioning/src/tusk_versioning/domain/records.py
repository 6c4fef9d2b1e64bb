"""Rows of the catalog as plain values, and how they render on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tusk_common.wire.versioning import BranchInfo, CommitInfo
from tusk_versioning.domain.nodes import Meta


@dataclass(frozen=True, slots=True)
class Repo:
    name: str
    description: str
    default_branch: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Branch:
    repo: str
    name: str
    head: str | None
    created_at: datetime

    def info(self) -> BranchInfo:
        return BranchInfo(repo=self.repo, name=self.name, head=self.head, created_at=self.created_at)


@dataclass(frozen=True, slots=True)
class Commit:
    id: str
    repo: str
    branch: str | None
    parent: str | None
    origin: Literal["user", "auto"]
    commit_set: str
    description: str
    state: Literal["open", "finished"]
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    root: str  # finished: its tree; open: the tree it started from
    size_bytes: int
    file_count: int
    staged_seq: int

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def info(self) -> CommitInfo:
        return CommitInfo(
            id=self.id,
            repo=self.repo,
            branch=self.branch,
            parent=self.parent,
            origin=self.origin,
            commit_set=self.commit_set,
            description=self.description,
            state=self.state,
            started_at=self.started_at,
            finished_at=self.finished_at,
            error=self.error,
            size_bytes=self.size_bytes,
            file_count=self.file_count,
        )


@dataclass(frozen=True, slots=True)
class StagedChange:
    """One row of an open commit's staging log."""

    seq: int
    path: str
    op: Literal["put", "delete"]
    kind: Literal["file", "dir"] | None = None
    hash: str | None = None
    size: int = 0
    files: int = 0
    meta: Meta = ()  # a put file's metadata
