"""RPC contract of the scheduler (`tusk.rpc.scheduler.<METHOD>`) and the datum task on `TUSK_DATUMS`.

Pipelines, jobs, datums, logs and secrets. A pipeline spec travels as the decoded JSON/YAML document
(`spec`), validated by the scheduler, which answers `Invalid` naming the field. Secret values never
appear in any reply here except `ResolveSecrets`, which only answers a worker running a job whose
pipeline references the secret.

The datum task (`DatumTask`, subject `tusk.datums.<pipeline>`) is the unit of work a worker pulls; its
answer is a `datum.done` or `datum.failed` event (see `tusk_common.events`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError

from tusk_common.subjects import DATUMS_PREFIX
from tusk_common.wire.base import Empty, Request, Wire
from tusk_common.wire.versioning import FileContent

SERVICE = "scheduler"
WORKER_CONSUMER_PREFIX = "tusk-worker-"  # + pipeline name: the durable consumer of its datum tasks

JobStateName = Literal["created", "starting", "running", "finishing", "success", "failure", "killed", "unrunnable"]
DatumStateName = Literal["starting", "success", "skipped", "failed", "recovered"]
JOB_TERMINAL: frozenset[str] = frozenset({"success", "failure", "killed", "unrunnable"})


def worker_consumer(pipeline: str) -> str:
    """The JetStream durable that workers pull `pipeline`'s datum tasks from."""
    return f"{WORKER_CONSUMER_PREFIX}{pipeline}"


def task_subject(pipeline: str) -> str:
    return f"{DATUMS_PREFIX}.{pipeline}"


_DIGEST_RE = re.compile(r"@(?P<alg>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]{32,})$")
_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}


def image_digest(image: str | None) -> str | None:
    """The content digest an image reference pins (`ghcr.io/a/b:1.2@sha256:<64 hex>` -> `sha256:<hex>`).

    None for a reference by tag alone: a tag can move, and no runner resolves one today (the local and
    bubblewrap runners run the worker's own programs), so only a pinned digest is known."""
    m = _DIGEST_RE.search(image or "")
    if m is None:
        return None
    alg, hexpart = m["alg"], m["hex"]
    want = _DIGEST_LENGTHS.get(alg)
    if want is not None and (len(hexpart) != want or not re.fullmatch(r"[0-9a-f]+", hexpart)):
        return None
    return f"{alg}:{hexpart}"


# ---------------------------------------------------------------- values


class PipelineVersion(Wire):
    """One version of a pipeline's spec (`inspect pipeline --history`)."""

    version: int
    spec_hash: str
    transform_hash: str
    created_at: datetime
    reprocess: bool = False  # the update asked to reprocess every datum
    keep_outputs: bool = False  # the update kept the previous version's datum outputs
    spec: dict[str, Any] | None = None  # this version's canonical spec (as `PipelineInfo.spec`)


class PipelineInfo(Wire):
    name: str
    version: int
    state: Literal["running", "paused"]
    description: str = ""
    spec: dict[str, Any]  # canonical form: snake_case keys, defaults filled; secret references only
    input_repos: list[str]
    output_repo: str
    output_branch: str
    created_at: datetime
    updated_at: datetime
    last_job: JobInfo | None = None
    versions: list[PipelineVersion] = Field(default_factory=list)  # newest first, with `history`


class JobInput(Wire):
    """One input branch of a job and the commit the job read (None: the branch had no commit)."""

    repo: str
    branch: str
    commit: str | None = None


class JobCounts(Wire):
    total: int = 0
    processed: int = 0  # ran and succeeded in this job
    skipped: int = 0
    failed: int = 0
    recovered: int = 0
    pending: int = 0  # still to run


class JobStats(Wire):
    """Sums over the datums this job ran (seconds and bytes)."""

    download_seconds: float = 0.0
    process_seconds: float = 0.0
    upload_seconds: float = 0.0
    download_bytes: int = 0
    upload_bytes: int = 0


class JobInfo(Wire):
    id: str
    pipeline: str
    pipeline_version: int
    state: JobStateName
    commit_set: str
    trigger: JobInput | None = None  # the commit that made this job (None: created by create/update)
    inputs: list[JobInput] = Field(default_factory=list)  # resolved when the job starts
    output_repo: str
    output_branch: str
    output_commit: str | None = None
    reason: str | None = None  # why it failed, was killed or is unrunnable
    counts: JobCounts = Field(default_factory=JobCounts)
    stats: JobStats = Field(default_factory=JobStats)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class DatumInputFile(Wire):
    path: str
    content: FileContent


class DatumInputInfo(Wire):
    name: str
    repo: str
    branch: str
    commit: str | None
    path: str  # what the glob matched
    file_count: int = 0
    join_on: str | None = None
    group_by: str | None = None


class DatumInfo(Wire):
    job: str
    pipeline: str
    datum_id: str
    datum_hash: str
    state: DatumStateName
    attempts: int = 0
    inputs: list[DatumInputInfo] = Field(default_factory=list)
    output_files: int = 0
    output_bytes: int = 0
    error: str | None = None
    worker: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stats: JobStats = Field(default_factory=JobStats)
    # The files the datum wrote (path -> content), only when asked (`outputs=True`): inline, or a large
    # manifest stored as JSON in the chunk store (`outputs_ref`), as in `datum.done`. A skipped datum has
    # the outputs it carried over; a failed or still running one has none (both None).
    outputs: dict[str, FileContent] | None = None
    outputs_ref: FileContent | None = None


class PlannedDatum(Wire):
    """A datum a spec would produce (dry run)."""

    datum_id: str
    datum_hash: str
    inputs: list[DatumInputInfo]


class LogLine(Wire):
    seq: int = 0  # assigned by the scheduler when stored; the cursor of `logs.get`
    pipeline: str
    job: str
    datum_id: str | None = None
    attempt: int = 0
    stream: Literal["stdout", "stderr", "system"] = "stdout"
    ts: datetime
    message: str


class SecretInfo(Wire):
    """A secret's name and key names: never its values."""

    name: str
    type: str = "Opaque"
    keys: list[str]
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- replies


class PipelineList(Wire):
    pipelines: list[PipelineInfo]


class CreatePipelineReply(Wire):
    pipeline: PipelineInfo | None = None  # None for a dry run
    created: bool = False  # a new pipeline (not an update)
    job: str | None = None  # the first job, when the inputs had data
    datums: list[PlannedDatum] = Field(default_factory=list)  # dry run: what the spec would produce
    datum_count: int = 0


class JobList(Wire):
    jobs: list[JobInfo]
    next_cursor: str | None = None


class DatumList(Wire):
    datums: list[DatumInfo]
    next_cursor: str | None = None


class LogPage(Wire):
    lines: list[LogLine]
    next_cursor: str | None = None  # pass back to continue (also when `lines` is empty: follow)


class SecretList(Wire):
    secrets: list[SecretInfo]


class PendingDatumIds(Wire):
    datums: list[str]


class SecretValues(Wire):
    """Secret values for one running job's worker: {secret: {key: value}}."""

    secrets: dict[str, dict[str, str]]


class CommitSetStatus(Wire):
    commit_set: str
    done: bool  # every job of the set (and every job its outputs trigger) has finished
    failed: bool  # some job of the set ended failure/killed/unrunnable
    jobs: list[JobInfo]


class Stored(Wire):
    stored: int


# ---------------------------------------------------------------- requests


class _S(Request):
    SERVICE: ClassVar[str] = SERVICE


class CreatePipeline(_S):
    """Create (or, with `update`, update) a pipeline from a spec document; `dry_run` only lists datums."""

    METHOD: ClassVar[str] = "pipeline.create"
    REPLY: ClassVar[type] = CreatePipelineReply
    spec: dict[str, Any]
    update: bool = False
    reprocess: bool = False  # update: run every datum again, even those whose inputs and code are unchanged
    keep_outputs: bool = False  # update: keep the outputs made by the previous transform (no reprocessing)
    dry_run: bool = False
    dry_run_limit: int = Field(1000, ge=0, le=100_000)


class InspectPipeline(_S):
    METHOD: ClassVar[str] = "pipeline.inspect"
    REPLY: ClassVar[type] = PipelineInfo
    name: str
    history: bool = False


class ListPipelines(_S):
    METHOD: ClassVar[str] = "pipeline.list"
    REPLY: ClassVar[type] = PipelineList


class DeletePipeline(_S):
    METHOD: ClassVar[str] = "pipeline.delete"
    REPLY: ClassVar[type] = Empty
    name: str
    keep_repo: bool = False  # keep the output repo and its commits
    force: bool = False  # even when other pipelines read its output


class StopPipeline(_S):
    """Pause: running jobs go on, no new job starts until `pipeline.start`."""

    METHOD: ClassVar[str] = "pipeline.stop"
    REPLY: ClassVar[type] = PipelineInfo
    name: str


class StartPipeline(_S):
    METHOD: ClassVar[str] = "pipeline.start"
    REPLY: ClassVar[type] = PipelineInfo
    name: str


class ListJobs(_S):
    """Newest first; filtered by pipeline and/or commit set."""

    METHOD: ClassVar[str] = "job.list"
    REPLY: ClassVar[type] = JobList
    pipeline: str | None = None
    commit_set: str | None = None
    limit: int = Field(100, ge=1, le=10_000)
    cursor: str | None = None


class InspectJob(_S):
    METHOD: ClassVar[str] = "job.inspect"
    REPLY: ClassVar[type] = JobInfo
    pipeline: str
    job: str  # a job id, or a commit set id (the pipeline's job in that set)


class WaitJob(_S):
    METHOD: ClassVar[str] = "job.wait"
    REPLY: ClassVar[type] = JobInfo
    pipeline: str
    job: str
    timeout: float = Field(60.0, gt=0, le=3600)


class StopJob(_S):
    METHOD: ClassVar[str] = "job.stop"
    REPLY: ClassVar[type] = JobInfo
    pipeline: str
    job: str
    reason: str = "stopped by the user"


class WaitCommitSet(_S):
    """Wait until every job in `commit_set`, and every job downstream of its commits, has finished.

    `repo`/`commit` name the commit the caller waited for (so a commit whose event the scheduler has
    not seen yet is waited for too)."""

    METHOD: ClassVar[str] = "commitset.wait"
    REPLY: ClassVar[type] = CommitSetStatus
    commit_set: str
    repo: str | None = None
    commit: str | None = None
    timeout: float = Field(60.0, gt=0, le=3600)


class ListDatums(_S):
    METHOD: ClassVar[str] = "datum.list"
    REPLY: ClassVar[type] = DatumList
    pipeline: str
    job: str
    state: DatumStateName | None = None
    limit: int = Field(1000, ge=1, le=10_000)
    cursor: str | None = None
    outputs: bool = False  # include each datum's output manifest (`DatumInfo.outputs`)


class InspectDatum(_S):
    METHOD: ClassVar[str] = "datum.inspect"
    REPLY: ClassVar[type] = DatumInfo
    pipeline: str
    job: str
    datum: str  # a datum id, or a unique prefix of one
    outputs: bool = False  # include the datum's output manifest (`DatumInfo.outputs`)


class RestartDatum(_S):
    """Send a datum that is still running (stuck) to the workers again; its first result counts."""

    METHOD: ClassVar[str] = "datum.restart"
    REPLY: ClassVar[type] = DatumInfo
    pipeline: str
    job: str
    datum: str


class PendingDatums(_S):
    """For workers: which of these datums of `job` still wait for their first answer (a datum set that
    comes back after its worker died runs only those, so its answered datums do not run twice and a
    datum that keeps killing workers fails alone)."""

    METHOD: ClassVar[str] = "datum.pending"
    REPLY: ClassVar[type] = PendingDatumIds
    job: str
    datums: list[str] = Field(max_length=10_000)


class GetLogs(_S):
    """Log lines of a pipeline, oldest first, optionally of one job and/or datum."""

    METHOD: ClassVar[str] = "logs.get"
    REPLY: ClassVar[type] = LogPage
    pipeline: str
    job: str | None = None
    datum: str | None = None
    tail: int | None = Field(None, ge=1, le=100_000)  # only the last N lines (first page)
    limit: int = Field(1000, ge=1, le=10_000)
    cursor: str | None = None


class AppendLogs(_S):
    """Workers store transform output lines (already redacted of secret values)."""

    METHOD: ClassVar[str] = "logs.append"
    REPLY: ClassVar[type] = Stored
    lines: list[LogLine] = Field(max_length=10_000)


class CreateSecret(_S):
    """A Kubernetes-Secret-like document: `{"kind": "Secret", "metadata": {"name"}, "data"|"stringData"}`."""

    METHOD: ClassVar[str] = "secret.create"
    REPLY: ClassVar[type] = SecretInfo
    secret: dict[str, Any]
    update: bool = False


class InspectSecret(_S):
    METHOD: ClassVar[str] = "secret.inspect"
    REPLY: ClassVar[type] = SecretInfo
    name: str


class ListSecrets(_S):
    METHOD: ClassVar[str] = "secret.list"
    REPLY: ClassVar[type] = SecretList


class DeleteSecret(_S):
    METHOD: ClassVar[str] = "secret.delete"
    REPLY: ClassVar[type] = Empty
    name: str


class ResolveSecrets(_S):
    """For workers: the values of the secrets `job`'s pipeline references, while the job runs."""

    METHOD: ClassVar[str] = "secret.resolve"
    REPLY: ClassVar[type] = SecretValues
    job: str


ALL_REQUESTS: tuple[type[Request], ...] = (
    CreatePipeline, InspectPipeline, ListPipelines, DeletePipeline, StopPipeline, StartPipeline,
    ListJobs, InspectJob, WaitJob, StopJob, WaitCommitSet,
    ListDatums, InspectDatum, RestartDatum, PendingDatums,
    GetLogs, AppendLogs,
    CreateSecret, InspectSecret, ListSecrets, DeleteSecret, ResolveSecrets,
)  # fmt: skip


# ---------------------------------------------------------------- the datum task


class TaskSecret(Wire):
    """A secret reference of the transform (never a value)."""

    name: str
    key: str | None = None
    env_var: str | None = None
    mount_path: str | None = None


class TaskTransform(Wire):
    cmd: list[str]
    stdin: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    secrets: list[TaskSecret] = Field(default_factory=list)
    image: str | None = None
    err_cmd: list[str] = Field(default_factory=list)
    err_stdin: list[str] = Field(default_factory=list)
    accept_return_code: list[int] = Field(default_factory=list)
    working_dir: str | None = None


class TaskInput(Wire):
    """One input's share of the datum: files to materialize under `/pfs/<name>` at their full path."""

    name: str
    repo: str
    branch: str
    commit: str | None
    path: str
    files: list[DatumInputFile] = Field(default_factory=list)
    files_ref: FileContent | None = None  # a large file list, stored as JSON in the chunk store
    lazy: bool = False
    empty_files: bool = False
    join_on: str | None = None
    group_by: str | None = None


class DatumTask(Wire):
    """One datum to run, answered by datum.done / datum.failed. Tasks travel in `DatumSetTask` messages;
    a message of schema version 1 is one bare `DatumTask` (`parse_task_message` reads both)."""

    schema_version: int = 1
    pipeline: str
    pipeline_version: int
    job: str
    datum_id: str
    datum_hash: str
    commit_set: str
    output_commit: str | None = None
    generation: int = 0  # bumped by `restart datum`: a new message for the same datum
    transform: TaskTransform
    datum_tries: int = Field(3, ge=1)
    datum_timeout: float | None = None
    inputs: list[TaskInput]


class SetDatum(Wire):
    """What differs between the datums of one set."""

    datum_id: str
    datum_hash: str
    generation: int = 0
    inputs: list[TaskInput]


class DatumSetTask(Wire):
    """A datum set: the message on `tusk.datums.<pipeline>`, the unit a worker pulls, acknowledges and
    (if it dies) gets redelivered, as Pachyderm 2's datum sets. Its datums run one after another in one
    worker slot, each answered by its own datum.done / datum.failed; the message is acknowledged once
    every answer is stored, so a set cut short is delivered again; that worker asks `PendingDatums` and
    runs only the datums still without an answer (the scheduler keeps each datum's first answer)."""

    schema_version: int = 2
    pipeline: str
    pipeline_version: int
    job: str
    commit_set: str
    output_commit: str | None = None
    transform: TaskTransform
    datum_tries: int = Field(3, ge=1)
    datum_timeout: float | None = None
    datums: list[SetDatum] = Field(min_length=1)

    def tasks(self) -> list[DatumTask]:
        shared = {k: getattr(self, k) for k in _SET_SHARED}
        return [DatumTask.model_construct(schema_version=1, **shared, datum_id=d.datum_id, datum_hash=d.datum_hash,
                                          generation=d.generation, inputs=d.inputs) for d in self.datums]  # fmt: skip

    @classmethod
    def of(cls, tasks: list[DatumTask]) -> DatumSetTask:
        """The set of `tasks`, which belong to one job."""
        first = tasks[0]
        return cls(
            pipeline=first.pipeline, pipeline_version=first.pipeline_version, job=first.job,
            commit_set=first.commit_set, output_commit=first.output_commit, transform=first.transform,
            datum_tries=first.datum_tries, datum_timeout=first.datum_timeout,
            datums=[SetDatum(datum_id=t.datum_id, datum_hash=t.datum_hash, generation=t.generation,
                             inputs=t.inputs) for t in tasks],
        )  # fmt: skip


_SET_SHARED = ("pipeline", "pipeline_version", "job", "commit_set", "output_commit", "transform", "datum_tries",
               "datum_timeout")


def parse_task_message(data: bytes) -> DatumSetTask:
    """A message from `TUSK_DATUMS`: a datum set, or one bare datum task (schema version 1, as queued
    by a scheduler before datum sets). Raises pydantic's ValidationError (the set's) for anything else."""
    try:
        return DatumSetTask.model_validate_json(data)
    except ValidationError as set_error:
        try:
            return DatumSetTask.of([DatumTask.model_validate_json(data)])
        except ValidationError:
            raise set_error from None


PipelineInfo.model_rebuild()
