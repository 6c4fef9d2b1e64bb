"""Wire values and events of the other services turned into lineage facts (one function per shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tusk_common.events import CommitFinished, CommitStarted, DatumDone, JobCreated, JobFinished
from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v
from tusk_common.wire.lineage import PipelineVersionRef
from tusk_lineage.domain.facts import (
    CommitFact,
    InputFile,
    JobFact,
    JobInputFact,
    PipelineVersionFact,
    RunFact,
)


def commit_from_event(ev: CommitStarted | CommitFinished, at: datetime) -> CommitFact:
    finished = isinstance(ev, CommitFinished)
    return CommitFact(
        commit=ev.commit, repo=ev.repo, branch=ev.branch, parent=ev.parent, commit_set=ev.commit_set,
        origin=ev.origin, state="finished" if finished else "open",
        error=ev.error if isinstance(ev, CommitFinished) else None,
        started_at=None if finished else at, finished_at=at if finished else None,
        size_bytes=ev.size_bytes if isinstance(ev, CommitFinished) else 0,
        file_count=ev.file_count if isinstance(ev, CommitFinished) else 0,
    )  # fmt: skip


def commit_from_info(c: v.CommitInfo) -> CommitFact:
    return CommitFact(
        commit=c.id, repo=c.repo, branch=c.branch, parent=c.parent, commit_set=c.commit_set, origin=c.origin,
        state=c.state, error=c.error, started_at=c.started_at, finished_at=c.finished_at,
        size_bytes=c.size_bytes, file_count=c.file_count,
    )  # fmt: skip


def code(pipeline: str, version: int, spec: dict[str, Any] | None, *, spec_hash: str | None = None,
         transform_hash: str | None = None) -> PipelineVersionRef:  # fmt: skip
    """A pipeline version's code: its hashes, and the cmd, image and pinned image digest of its spec."""
    transform: dict[str, Any] = dict((spec or {}).get("transform") or {})
    image = transform.get("image")
    return PipelineVersionRef(pipeline=pipeline, version=version, spec_hash=spec_hash, transform_hash=transform_hash,
                              cmd=list(transform.get("cmd") or ()), image=image, image_digest=w.image_digest(image))  # fmt: skip


def pipeline_versions(info: w.PipelineInfo) -> list[PipelineVersionFact]:
    """Every version the scheduler lists (asked with `history`: each comes with its own spec)."""
    out = []
    for pv in info.versions:
        spec = pv.spec if pv.spec is not None else info.spec if pv.version == info.version else None
        out.append(PipelineVersionFact(
            code(info.name, pv.version, spec, spec_hash=pv.spec_hash, transform_hash=pv.transform_hash),
            spec=spec, created_at=pv.created_at,
        ))  # fmt: skip
    if not any(f.code.version == info.version for f in out):
        out.append(PipelineVersionFact(code(info.name, info.version, info.spec), spec=info.spec))
    return out


def job_from_created(ev: JobCreated, at: datetime) -> JobFact:
    return JobFact(
        job=ev.job, pipeline=ev.pipeline, pipeline_version=ev.pipeline_version, commit_set=ev.commit_set,
        state="created", output_repo=ev.output_repo, output_branch=ev.output_branch,
        trigger_repo=ev.trigger_repo, trigger_commit=ev.trigger_commit, created_at=at,
    )  # fmt: skip


def job_from_finished(ev: JobFinished, at: datetime) -> JobFact:
    """The job as its event tells it (trigger, output branch and creation time came with `job.created`)."""
    return JobFact(
        job=ev.job, pipeline=ev.pipeline, pipeline_version=ev.pipeline_version, commit_set=ev.commit_set,
        state=ev.state, reason=ev.reason, output_repo=ev.output_repo, output_commit=ev.output_commit,
        inputs=None if ev.inputs is None else tuple(JobInputFact(i.repo, i.branch, i.commit) for i in ev.inputs),
        finished_at=at,
    )  # fmt: skip


def job_from_info(info: w.JobInfo) -> JobFact:
    return JobFact(
        job=info.id, pipeline=info.pipeline, pipeline_version=info.pipeline_version, commit_set=info.commit_set,
        state=info.state, reason=info.reason, output_repo=info.output_repo, output_branch=info.output_branch,
        output_commit=info.output_commit, trigger_repo=info.trigger.repo if info.trigger else None,
        trigger_commit=info.trigger.commit if info.trigger else None,
        inputs=tuple(JobInputFact(i.repo, i.branch, i.commit) for i in info.inputs),
        created_at=info.created_at, finished_at=info.finished_at,
    )  # fmt: skip


def run_from_datum(d: w.DatumInfo | DatumDone, inputs: tuple[InputFile, ...],
                   outputs: dict[str, tuple[str, int]] | None) -> RunFact:  # fmt: skip
    """A processed datum, from its `datum.done` event (live) or the scheduler's record (rebuild)."""
    assert d.datum_hash is not None
    return RunFact(job=d.job, pipeline=d.pipeline, datum_id=d.datum_id, datum_hash=d.datum_hash, state=d.state,
                   inputs=inputs, outputs=outputs)  # fmt: skip
