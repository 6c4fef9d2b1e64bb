"""Events on `TUSK_EVENTS` (`tusk.events.<KIND>`), each wrapped in a CloudEvents 1.0 envelope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from tusk_common.subjects import event_subject
from tusk_common.wire.base import Wire


class Event(Wire):
    """Base of every event; `KIND` is the subject suffix and the CloudEvents type stem."""

    KIND: ClassVar[str] = ""
    schema_version: int = 1

    @classmethod
    def subject(cls) -> str:
        return event_subject(cls.KIND)

    @classmethod
    def ce_type(cls) -> str:
        return f"io.tusk.{cls.KIND}.v{cls.model_fields['schema_version'].default}"

    def ce_subject(self) -> str:
        return ""


class RepoCreated(Event):
    """A repo was created."""

    KIND: ClassVar[str] = "repo.created"
    repo: str
    description: str = ""

    def ce_subject(self) -> str:
        return self.repo


class RepoDeleted(Event):
    """A repo was deleted with its branches and commits."""

    KIND: ClassVar[str] = "repo.deleted"
    repo: str

    def ce_subject(self) -> str:
        return self.repo


class CommitStarted(Event):
    """A commit was opened on a branch (by a user, or by a pipeline for its output)."""

    KIND: ClassVar[str] = "commit.started"
    repo: str
    branch: str | None
    commit: str
    commit_set: str
    parent: str | None
    origin: Literal["user", "auto"] = "user"

    def ce_subject(self) -> str:
        return f"{self.repo}@{self.commit}"


class CommitFinished(Event):
    """A commit was finished: it is immutable from now on; pipelines reading its branch react to this."""

    KIND: ClassVar[str] = "commit.finished"
    repo: str
    branch: str | None
    commit: str
    commit_set: str
    parent: str | None
    origin: Literal["user", "auto"] = "user"
    error: str | None = None
    size_bytes: int = 0
    file_count: int = 0

    def ce_subject(self) -> str:
        return f"{self.repo}@{self.commit}"


class BranchUpdated(Event):
    """A branch head moved (new commit, `create branch --head`, squash or delete)."""

    KIND: ClassVar[str] = "branch.updated"
    repo: str
    branch: str
    head: str | None
    previous: str | None

    def ce_subject(self) -> str:
        return f"{self.repo}@{self.branch}"


class CloudEvent(Wire):
    """The CloudEvents 1.0 JSON envelope every event travels in."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]


EVENT_TYPES: tuple[type[Event], ...] = (
    RepoCreated, RepoDeleted, CommitStarted, CommitFinished, BranchUpdated,
)
_BY_TYPE = {cls.ce_type(): cls for cls in EVENT_TYPES}


def new_event_id() -> str:
    return uuid.uuid4().hex


def envelope(event: Event, *, source: str, event_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=event_id or new_event_id(),
        source=source,
        type=event.ce_type(),
        time=datetime.now(UTC),
        subject=event.ce_subject() or None,
        data=event.model_dump(mode="json"),
    )


def parse_event(ce: CloudEvent) -> Event:
    """The typed event inside an envelope (raises KeyError for a type this version does not know)."""
    return _BY_TYPE[ce.type].model_validate(ce.data)


def register(cls: type[Event]) -> type[Event]:
    """Add an event type defined by a later module (pipelines, lineage) to the parser."""
    _BY_TYPE[cls.ce_type()] = cls
    return cls


# ---------------------------------------------------------------- pipelines (issue 3)

from pydantic import Field  # noqa: E402  (imports of the appended section)

from tusk_common.wire.pipelines import JobInput, TaskInput  # noqa: E402  (no cycle: wire never imports events)
from tusk_common.wire.versioning import FileContent  # noqa: E402  (no cycle: wire imports only wire.base)


class JobCreated(Event):
    """A pipeline job was created for a commit set (it starts when the pipeline's earlier jobs are done)."""

    KIND: ClassVar[str] = "job.created"
    pipeline: str
    job: str
    pipeline_version: int
    commit_set: str
    trigger_repo: str | None = None  # the input commit that made the job; None for create/update
    trigger_branch: str | None = None
    trigger_commit: str | None = None
    output_repo: str
    output_branch: str

    def ce_subject(self) -> str:
        return f"{self.pipeline}@{self.job}"


class JobFinished(Event):
    """A job reached a final state; its output commit (if any) is finished, with `error` on failure."""

    KIND: ClassVar[str] = "job.finished"
    pipeline: str
    job: str
    pipeline_version: int
    commit_set: str
    state: Literal["success", "failure", "killed", "unrunnable"]
    reason: str | None = None
    output_repo: str
    output_commit: str | None = None
    datums_total: int = 0
    datums_processed: int = 0
    datums_skipped: int = 0
    datums_failed: int = 0
    datums_recovered: int = 0
    duration_seconds: float = 0.0
    # The commit each input branch was read at (a few entries: one per input branch); None from a
    # producer older than this field, [] when the job ended before it resolved its inputs.
    inputs: list[JobInput] | None = None

    def ce_subject(self) -> str:
        return f"{self.pipeline}@{self.job}"


class DatumDone(Event):
    """A worker finished a datum: `success` with its output manifest (path -> content), or `recovered`.

    A large manifest is stored in the chunk store as JSON (`outputs_ref`) instead of inline. `inputs` are
    the datum's inputs as its task gave them: the exact files (path, content) at each input commit, inline
    or, for a long list, by the reference the task carried (`files_ref`); `datum_hash` is the task's.
    Both are None / [] from a producer older than these fields."""

    KIND: ClassVar[str] = "datum.done"
    pipeline: str
    job: str
    datum_id: str
    state: Literal["success", "recovered"]
    attempts: int
    generation: int = 0
    outputs: dict[str, FileContent] = Field(default_factory=dict)
    outputs_ref: FileContent | None = None
    datum_hash: str | None = None
    inputs: list[TaskInput] = Field(default_factory=list)
    worker: str = ""
    download_seconds: float = 0.0
    process_seconds: float = 0.0
    upload_seconds: float = 0.0
    download_bytes: int = 0
    upload_bytes: int = 0

    def ce_subject(self) -> str:
        return f"{self.pipeline}@{self.job}/{self.datum_id}"


class DatumFailed(Event):
    """A datum still failed after `datum_tries` attempts (and its `err_cmd`, if any, failed too)."""

    KIND: ClassVar[str] = "datum.failed"
    pipeline: str
    job: str
    datum_id: str
    attempts: int
    generation: int = 0
    error: str
    worker: str = ""
    process_seconds: float = 0.0

    def ce_subject(self) -> str:
        return f"{self.pipeline}@{self.job}/{self.datum_id}"


class PipelineCreated(Event):
    """A pipeline was created, with its output repo."""

    KIND: ClassVar[str] = "pipeline.created"
    pipeline: str
    version: int
    spec_hash: str
    input_repos: list[str]
    output_repo: str

    def ce_subject(self) -> str:
        return self.pipeline


class PipelineUpdated(Event):
    """A pipeline's spec got a new version (or its state changed: `paused`/`running`)."""

    KIND: ClassVar[str] = "pipeline.updated"
    pipeline: str
    version: int
    spec_hash: str
    state: Literal["running", "paused"] = "running"
    reprocess: bool = False
    keep_outputs: bool = False

    def ce_subject(self) -> str:
        return self.pipeline


class PipelineDeleted(Event):
    """A pipeline was deleted (its output repo too unless it was kept)."""

    KIND: ClassVar[str] = "pipeline.deleted"
    pipeline: str
    kept_repo: bool = False

    def ce_subject(self) -> str:
        return self.pipeline


PIPELINE_EVENT_TYPES: tuple[type[Event], ...] = (
    JobCreated, JobFinished, DatumDone, DatumFailed, PipelineCreated, PipelineUpdated, PipelineDeleted,
)
for _cls in PIPELINE_EVENT_TYPES:
    register(_cls)
EVENT_TYPES = (*EVENT_TYPES, *PIPELINE_EVENT_TYPES)


# ---------------------------------------------------------------- lineage (issue 5)


class LineageUpdated(Event):
    """The lineage service recorded new provenance: a finished commit's files (`reason` "commit"), a
    job's output commit with its inputs, datums and code ("job"), or the whole graph ("rebuild")."""

    KIND: ClassVar[str] = "lineage.updated"
    reason: Literal["commit", "job", "rebuild"]
    repo: str | None = None
    commit: str | None = None
    commit_set: str | None = None
    pipeline: str | None = None
    job: str | None = None
    inputs: list[str] = Field(default_factory=list)  # "repo@commit" of a job's input commits
    files: int = 0  # file versions recorded (commit: changed files; job: files with a producer)

    def ce_subject(self) -> str:
        return f"{self.repo}@{self.commit}" if self.repo and self.commit else self.reason


LINEAGE_EVENT_TYPES: tuple[type[Event], ...] = (LineageUpdated,)
for _cls in LINEAGE_EVENT_TYPES:
    register(_cls)
EVENT_TYPES = (*EVENT_TYPES, *LINEAGE_EVENT_TYPES)
