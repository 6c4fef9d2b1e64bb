"""Rows of the scheduler's tables rendered as wire values."""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import asyncpg

from tusk_common.wire.pipelines import (
    DatumInfo,
    DatumInputInfo,
    JobCounts,
    JobInfo,
    JobInput,
    JobStats,
    LogLine,
    PipelineInfo,
    PipelineVersion,
    SecretInfo,
)

Row: TypeAlias = asyncpg.Record | dict[str, Any]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def job_info(r: Row) -> JobInfo:
    trigger = None
    if r["trigger_repo"] is not None:
        trigger = JobInput(repo=r["trigger_repo"], branch=r["trigger_branch"] or "", commit=r["trigger_commit"])
    return JobInfo(
        id=r["id"], pipeline=r["pipeline"], pipeline_version=r["pipeline_version"], state=r["state"],
        commit_set=r["commit_set"], trigger=trigger,
        inputs=[JobInput.model_validate(i) for i in _json(r["inputs"]) or []],
        output_repo=r["pipeline"], output_branch=r["output_branch"], output_commit=r["output_commit"],
        reason=r["reason"],
        counts=JobCounts(total=r["total"], processed=r["processed"], skipped=r["skipped"], failed=r["failed"],
                         recovered=r["recovered"], pending=r["pending"]),
        stats=JobStats.model_validate(_json(r["stats"]) or {}),
        created_at=r["created_at"], started_at=r["started_at"], finished_at=r["finished_at"],
    )  # fmt: skip


def datum_info(r: Row, pipeline: str) -> DatumInfo:
    return DatumInfo(
        job=r["job"], pipeline=pipeline, datum_id=r["datum_id"], datum_hash=r["datum_hash"], state=r["state"],
        attempts=r["attempts"], inputs=[DatumInputInfo.model_validate(i) for i in _json(r["inputs"])],
        output_files=r["output_files"], output_bytes=r["output_bytes"], error=r["error"], worker=r["worker"],
        started_at=r["started_at"], finished_at=r["finished_at"],
        stats=JobStats.model_validate(_json(r["stats"]) or {}),
    )  # fmt: skip


def version_info(r: Row) -> PipelineVersion:
    return PipelineVersion(
        version=r["version"], spec_hash=r["spec_hash"], transform_hash=r["transform_hash"],
        created_at=r["created_at"], reprocess=r["reprocess"], keep_outputs=r["keep_outputs"], spec=_json(r["spec"]),
    )  # fmt: skip


def pipeline_info(
    r: Row, spec: dict[str, Any], *, last_job: JobInfo | None = None, versions: list[PipelineVersion] | None = None
) -> PipelineInfo:
    return PipelineInfo(
        name=r["name"], version=r["version"], state=r["state"], description=spec.get("description") or "",
        spec=spec, input_repos=list(r["input_repos"]), output_repo=r["name"], output_branch=r["output_branch"],
        created_at=r["created_at"], updated_at=r["updated_at"], last_job=last_job, versions=versions or [],
    )  # fmt: skip


def log_line(r: Row) -> LogLine:
    return LogLine(
        seq=r["seq"], pipeline=r["pipeline"], job=r["job"], datum_id=r["datum_id"], attempt=r["attempt"],
        stream=r["stream"], ts=r["ts"], message=r["message"],
    )  # fmt: skip


def secret_info(r: Row) -> SecretInfo:
    return SecretInfo(name=r["name"], type=r["type"], keys=list(r["keys"]), created_at=r["created_at"],
                      updated_at=r["updated_at"])  # fmt: skip
