"""Wire values and events of the other services turned into lineage facts (one function per shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tusk_common.events import CommitFinished, CommitStarted, JobCreated, JobFinished
from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v
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


def pipeline_versions(info: w.PipelineInfo) -> list[PipelineVersionFact]:
    """Every version the scheduler lists; only the current one comes with its spec (the RPC gives no other)."""
    transform: dict[str, Any] = dict(info.spec.get("transform") or {})
    current = PipelineVersionFact(
        pipeline=info.name, version=info.version, cmd=tuple(transform.get("cmd") or ()),
        image=transform.get("image"), spec=info.spec,
    )  # fmt: skip
    out = []
    for pv in info.versions:
        if pv.version == info.version:
            out.append(PipelineVersionFact(
                pipeline=info.name, version=pv.version, spec_hash=pv.spec_hash, transform_hash=pv.transform_hash,
                cmd=current.cmd, image=current.image, spec=info.spec, created_at=pv.created_at,
            ))  # fmt: skip
        else:
            out.append(PipelineVersionFact(pipeline=info.name, version=pv.version, spec_hash=pv.spec_hash,
                                           transform_hash=pv.transform_hash, created_at=pv.created_at))  # fmt: skip
    if not any(f.version == info.version for f in out):
        out.append(current)
    return out


def job_from_created(ev: JobCreated, at: datetime) -> JobFact:
    return JobFact(
        job=ev.job, pipeline=ev.pipeline, pipeline_version=ev.pipeline_version, commit_set=ev.commit_set,
        state="created", output_repo=ev.output_repo, output_branch=ev.output_branch,
        trigger_repo=ev.trigger_repo, trigger_commit=ev.trigger_commit, created_at=at,
    )  # fmt: skip


def job_from_finished(ev: JobFinished, at: datetime, info: w.JobInfo | None) -> JobFact:
    return JobFact(
        job=ev.job, pipeline=ev.pipeline, pipeline_version=ev.pipeline_version, commit_set=ev.commit_set,
        state=ev.state, reason=ev.reason, output_repo=ev.output_repo,
        output_branch=info.output_branch if info else None, output_commit=ev.output_commit,
        trigger_repo=info.trigger.repo if info and info.trigger else None,
        trigger_commit=info.trigger.commit if info and info.trigger else None,
        inputs=tuple(JobInputFact(i.repo, i.branch, i.commit) for i in info.inputs) if info else None,
        created_at=info.created_at if info else None, finished_at=at,
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


def run_from_datum(d: w.DatumInfo, inputs: tuple[InputFile, ...], outputs: dict[str, tuple[str, int]] | None,
                   *, state: str | None = None) -> RunFact:  # fmt: skip
    return RunFact(job=d.job, pipeline=d.pipeline, datum_id=d.datum_id, datum_hash=d.datum_hash,
                   state=state or d.state, inputs=inputs, outputs=outputs)  # fmt: skip
