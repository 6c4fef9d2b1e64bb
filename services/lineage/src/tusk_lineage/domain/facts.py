"""Facts the graph is made of, whoever learned them: the live consumer (from events and lookups) and
`rebuild` (from the versioning and scheduler state) both turn what they know into these, and the store
applies them idempotently, so both paths produce the same graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tusk_common.wire.lineage import PipelineVersionRef


@dataclass(frozen=True, slots=True)
class CommitFact:
    commit: str
    repo: str
    branch: str | None
    parent: str | None
    commit_set: str
    origin: str = "user"
    state: str = "open"  # open | finished
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    size_bytes: int = 0
    file_count: int = 0


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file of a commit that differs from its parent: new content, or `content_id` None (deleted)."""

    path: str
    content_id: str | None
    size: int = 0


@dataclass(frozen=True, slots=True)
class PipelineVersionFact:
    code: PipelineVersionRef  # pipeline, version, spec hash, transform hash, cmd, image (and its digest)
    spec: dict[str, object] | None = None  # the canonical spec, when it could be read for this version
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobInputFact:
    repo: str
    branch: str
    commit: str | None


@dataclass(frozen=True, slots=True)
class JobFact:
    job: str
    pipeline: str
    pipeline_version: int
    commit_set: str
    state: str
    output_repo: str
    output_branch: str | None = None
    output_commit: str | None = None
    trigger_repo: str | None = None
    trigger_commit: str | None = None
    reason: str | None = None
    inputs: tuple[JobInputFact, ...] | None = None  # None: not known yet (the job has not started)
    created_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InputFile:
    """A file a datum read: exactly the version at `commit`."""

    name: str  # the input's name in the spec (`/pfs/<name>`)
    repo: str
    commit: str
    path: str
    content_id: str
    size: int = 0


@dataclass(frozen=True, slots=True)
class RunFact:
    """One processed datum of a job (skipped datums are not runs: their outputs were carried over)."""

    job: str
    pipeline: str
    datum_id: str
    datum_hash: str
    state: str  # success | recovered
    inputs: tuple[InputFile, ...]
    outputs: dict[str, tuple[str, int]] | None = field(default=None)  # path -> (content id, size)
