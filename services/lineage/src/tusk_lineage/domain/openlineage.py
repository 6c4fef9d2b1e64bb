"""OpenLineage RunEvents (spec 2-0-2) for Tusk jobs, as plain JSON values.

Job = pipeline, Run = one job of it (START when created, COMPLETE or FAIL when it finished). Datasets are
repos; the commit read or written is the `version` facet (`datasetVersion` = commit id), so a consumer such
as Marquez links each run to the exact version it used. File-level lineage rides in the custom output
dataset facet `tusk_files` (schema: `tusk_files.schema.json` beside this module).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tusk_common.wire.lineage import PipelineVersionRef

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
RUN_EVENT_SCHEMA = f"{SPEC}#/$defs/RunEvent"
VERSION_FACET = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
JOB_TYPE_FACET = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
ERROR_FACET = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
TUSK_FILES_FACET = "https://tusk.dev/schemas/openlineage/1-0-0/TuskFilesDatasetFacet.json#/$defs/TuskFilesDatasetFacet"
TUSK_RUN_FACET = "https://tusk.dev/schemas/openlineage/1-0-0/TuskRunFacet.json#/$defs/TuskRunFacet"
TUSK_CODE_FACET = "https://tusk.dev/schemas/openlineage/1-0-0/TuskCodeJobFacet.json#/$defs/TuskCodeJobFacet"

_NS = uuid.UUID("6b0f3c8e-5f2a-4c9e-9a51-7d3f1e2b8c40")


def run_id(job: str) -> str:
    """The job id as a UUID (Tusk job ids are 32 hex digits); other ids map to a stable UUIDv5."""
    try:
        return str(uuid.UUID(hex=job))
    except ValueError:
        return str(uuid.uuid5(_NS, job))


@dataclass(frozen=True, slots=True)
class Emitter:
    """Who emits, and where its jobs and datasets live."""

    namespace: str
    producer: str


@dataclass(frozen=True, slots=True)
class FileLink:
    """One output file and the exact input files its datum read (for `tusk_files`)."""

    path: str
    content_id: str | None
    size: int
    inputs: tuple[tuple[str, str, str, str], ...]  # (repo, commit, path, content id)


def _facet(em: Emitter, schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": em.producer, "_schemaURL": schema, **fields}


def dataset(em: Emitter, repo: str, commit: str | None) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if commit:
        facets["version"] = _facet(em, VERSION_FACET, datasetVersion=commit)
    return {"namespace": em.namespace, "name": repo, "facets": facets}


def _job(em: Emitter, pipeline: str, version: int, code: PipelineVersionRef | None) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "jobType": _facet(em, JOB_TYPE_FACET, processingType="BATCH", integration="TUSK", jobType="PIPELINE"),
    }
    if code is not None:
        fields = {"specHash": code.spec_hash, "transformHash": code.transform_hash, "cmd": code.cmd,
                  "image": code.image, "imageDigest": code.image_digest}  # fmt: skip
        known = {k: v for k, v in fields.items() if v not in (None, [])}
        facets["tusk_code"] = _facet(em, TUSK_CODE_FACET, pipelineVersion=version, **known)
    return {"namespace": em.namespace, "name": pipeline, "facets": facets}


def _time(at: datetime) -> str:
    return at.isoformat()


def start_event(em: Emitter, *, job: str, pipeline: str, version: int, commit_set: str, at: datetime,
                trigger: tuple[str, str] | None, output_repo: str,
                code: PipelineVersionRef | None = None) -> dict[str, Any]:  # fmt: skip
    """START: the job was created for `trigger` (repo, commit); its inputs are resolved later."""
    return {
        "eventType": "START",
        "eventTime": _time(at),
        "producer": em.producer,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_id(job), "facets": {
            "tusk_run": _facet(em, TUSK_RUN_FACET, job=job, commitSet=commit_set, pipelineVersion=version),
        }},
        "job": _job(em, pipeline, version, code),
        "inputs": [dataset(em, trigger[0], trigger[1])] if trigger else [],
        "outputs": [dataset(em, output_repo, None)],
    }  # fmt: skip


def finish_event(em: Emitter, *, job: str, pipeline: str, version: int, commit_set: str, at: datetime,
                 state: str, reason: str | None, inputs: Sequence[tuple[str, str]], output_repo: str,
                 output_commit: str | None, files: Sequence[FileLink], total_files: int,
                 code: PipelineVersionRef | None = None) -> dict[str, Any]:  # fmt: skip
    """COMPLETE (success) or FAIL (failure, killed, unrunnable) with the exact input and output commits."""
    ok = state == "success"
    run_facets: dict[str, Any] = {
        "tusk_run": _facet(em, TUSK_RUN_FACET, job=job, commitSet=commit_set, pipelineVersion=version, state=state),
    }
    if not ok:
        run_facets["errorMessage"] = _facet(em, ERROR_FACET, message=reason or f"job {state}",
                                            programmingLanguage="none")  # fmt: skip
    out = dataset(em, output_repo, output_commit)
    if output_commit is not None:
        out["facets"]["tusk_files"] = _facet(
            em, TUSK_FILES_FACET, commit=output_commit, total=total_files, truncated=len(files) < total_files,
            files=[{
                "path": f.path, "contentId": f.content_id, "size": f.size,
                "inputs": [{"namespace": em.namespace, "name": r, "version": c, "path": p, "contentId": h}
                           for r, c, p, h in f.inputs],
            } for f in files],
        )  # fmt: skip
    return {
        "eventType": "COMPLETE" if ok else "FAIL",
        "eventTime": _time(at),
        "producer": em.producer,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_id(job), "facets": run_facets},
        "job": _job(em, pipeline, version, code),
        "inputs": [dataset(em, r, c) for r, c in inputs],
        "outputs": [out],
    }
