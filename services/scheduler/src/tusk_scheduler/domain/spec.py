"""Pachyderm's pipeline spec, for the fields Tusk supports (ARCHITECTURE.md §5).

Keys are accepted in snake_case (proto) and camelCase (Pachyderm's docs), as protojson does; errors name
the field by its snake_case path (`input.cross[1].pfs.glob`). An unknown key is an error, and a key
Pachyderm knows but Tusk does not run (`egress`, `spout`, `s3_out`, ...) says "not supported by Tusk".
Every failure raises `tusk_common.errors.Invalid` with `field=` that path; all failures found are in
`details["errors"]`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import (
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from tusk_common.errors import Invalid
from tusk_scheduler.domain.document import Format, load_documents
from tusk_scheduler.domain.spec_base import ENV_NAME, PipelineRef, SpecModel, fail, invalid_from, valid_name
from tusk_scheduler.domain.spec_inputs import CronInput, Input, PfsInput
from tusk_scheduler.domain.spec_rules import SpecError, check_pipeline
from tusk_scheduler.domain.units import format_duration, parse_duration, parse_quantity

__all__ = [
    "CronInput",
    "Gpu",
    "Input",
    "Metadata",
    "ParallelismSpec",
    "PfsInput",
    "PipelineRef",
    "PipelineSpec",
    "ReprocessSpec",
    "ResourceSpec",
    "SecretRef",
    "Transform",
    "parse_spec",
    "parse_specs",
    "spec_from_dict",
]


class SecretRef(SpecModel):
    name: StrictStr
    key: StrictStr | None = None
    env_var: StrictStr | None = None
    mount_path: StrictStr | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return valid_name(v)

    @model_validator(mode="after")
    def _one_target(self) -> SecretRef:
        if (self.env_var is None) == (self.mount_path is None):
            raise fail("exactly one of env_var and mount_path must be set")
        if self.env_var is not None:
            if not ENV_NAME.match(self.env_var):
                raise fail(f"{self.env_var!r} is not an environment variable name", "env_var")
            if not self.key:
                raise fail("is required with env_var (which key of the secret to expose)", "key")
        if self.mount_path is not None and not self.mount_path.startswith("/"):
            raise fail("must be an absolute path", "mount_path")
        return self


class Transform(SpecModel):
    unsupported: ClassVar[Mapping[str, str]] = {
        "debug": "",
        "user": "",
        "dockerfile": "build the image first and set transform.image",
        "memory_volume": "",
        "datum_batching": "workers already keep the runner warm between datums",
        "build": "",
    }
    cmd: tuple[StrictStr, ...]
    stdin: tuple[StrictStr, ...] = ()
    env: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    secrets: tuple[SecretRef, ...] = ()
    image: StrictStr | None = None
    err_cmd: tuple[StrictStr, ...] = ()
    err_stdin: tuple[StrictStr, ...] = ()
    accept_return_code: tuple[StrictInt, ...] = ()
    working_dir: StrictStr | None = None

    @field_validator("cmd")
    @classmethod
    def _check_cmd(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or not v[0].strip():
            raise fail('must name the program to run, e.g. ["python3", "/app/main.py"]')
        return v

    @field_validator("env")
    @classmethod
    def _check_env(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not ENV_NAME.match(key):
                raise fail("is not an environment variable name", key)
        return v

    @field_validator("image", "working_dir")
    @classmethod
    def _non_empty(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise fail("must not be empty")
        return v

    @model_validator(mode="after")
    def _check_rest(self) -> Transform:
        if self.err_stdin and not self.err_cmd:
            raise fail("needs err_cmd", "err_stdin")
        if self.err_cmd and not self.err_cmd[0].strip():
            raise fail("must name the program to run", "err_cmd")
        if self.working_dir is not None and not self.working_dir.startswith("/"):
            raise fail("must be an absolute path", "working_dir")
        return self


class ParallelismSpec(SpecModel):
    unsupported: ClassVar[Mapping[str, str]] = {"coefficient": "set constant"}
    constant: StrictInt = Field(default=1, ge=0)


class DatumSetSpec(SpecModel):
    """How a job's datums are cut into datum sets, the unit a worker pulls (Pachyderm's `datum_set_spec`).
    A set closes at the first limit it reaches; 0 means no such limit. See `domain.datum_sets`."""

    number: StrictInt = Field(default=0, ge=0)
    size_bytes: StrictInt = Field(default=0, ge=0)
    per_worker: StrictInt = Field(default=0, ge=0)


class Gpu(SpecModel):
    type: StrictStr
    number: StrictInt = Field(ge=1)


class ResourceSpec(SpecModel):
    cpu: StrictFloat | None = Field(default=None, ge=0)
    memory: StrictStr | None = None
    gpu: Gpu | None = None
    disk: StrictStr | None = None

    @field_validator("memory", "disk")
    @classmethod
    def _quantity(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_quantity(v)
            except ValueError as exc:
                raise fail(str(exc)) from None
        return v

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory is None else parse_quantity(self.memory)

    @property
    def disk_bytes(self) -> int | None:
        return None if self.disk is None else parse_quantity(self.disk)


class Metadata(SpecModel):
    annotations: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    labels: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class ReprocessSpec(StrEnum):
    UNTIL_SUCCESS = "until_success"
    EVERY_JOB = "every_job"


class PipelineSpec(SpecModel):
    """A validated pipeline spec; construct it with `parse_spec` or `spec_from_dict`."""

    unsupported: ClassVar[Mapping[str, str]] = {
        "egress": "add a pipeline that pushes its input out",
        "service": "",
        "spout": "write to an input repo with `tusk put file` or S3 instead",
        "s3_out": "write outputs under /pfs/out",
        "autoscaling": "workers scale on the datum queue's depth",
        "standby": "workers scale on the datum queue's depth",
        "pod_patch": "",
        "pod_spec": "",
        "resource_limits": "",
        "sidecar_resource_requests": "",
        "sidecar_resource_limits": "",
        "scheduling_spec": "",
        "tolerations": "",
        "maximum_expected_uptime": "",
        "determined": "",
        "tf_job": "",
        "spec_commit": "",
        "cache_size": "",
        "enable_stats": "datum stats are always kept",
        "chunk_spec": "",
        "max_queue_size": "",
        "update": "use `tusk update pipeline`",
        "reprocess": "use `tusk update pipeline --reprocess`",
        "dry_run": "use `tusk create pipeline --dry-run`",
    }
    pipeline: PipelineRef
    description: StrictStr | None = None
    input: Input
    transform: Transform
    parallelism_spec: ParallelismSpec | None = None
    datum_set_spec: DatumSetSpec | None = None
    datum_tries: StrictInt = Field(default=3, ge=1)
    datum_timeout: float | None = None
    job_timeout: float | None = None
    resource_requests: ResourceSpec | None = None
    output_branch: StrictStr = "master"
    reprocess_spec: ReprocessSpec = ReprocessSpec.UNTIL_SUCCESS
    salt: StrictStr | None = None
    metadata: Metadata | None = None

    @classmethod
    def _defaults(cls, data: dict[str, Any]) -> dict[str, Any]:
        pipeline = data.get("pipeline")
        name = pipeline.get("name") if isinstance(pipeline, dict) else None
        if isinstance(name, str) and "input" in data:
            data["input"] = _fill_cron_repos(data["input"], name)
        return data

    @field_validator("output_branch")
    @classmethod
    def _check_branch(cls, v: str) -> str:
        return valid_name(v)

    @field_validator("datum_timeout", "job_timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        if v is None:
            return v
        if not isinstance(v, str):
            raise fail("must be a duration string such as '600s' or '1h30m'")
        try:
            seconds = parse_duration(v)
        except ValueError as exc:
            raise fail(str(exc)) from None
        if seconds <= 0:
            raise fail("must be positive")
        return seconds

    @field_serializer("datum_timeout", "job_timeout")
    def _render_duration(self, v: float | None) -> str | None:
        return None if v is None else format_duration(v)

    @model_validator(mode="after")
    def _check_pipeline(self) -> PipelineSpec:
        try:
            check_pipeline(self)
        except SpecError as exc:
            raise fail(exc.message, *exc.loc) from None
        return self

    @property
    def name(self) -> str:
        return self.pipeline.name

    @property
    def parallelism(self) -> int:
        """Worker concurrency for this pipeline (Pachyderm treats 0 or unset as 1)."""
        return max(1, self.parallelism_spec.constant) if self.parallelism_spec else 1

    def canonical_json(self) -> str:
        """The spec with defaults filled, snake_case keys, sorted, compact: what is stored and hashed."""
        return json.dumps(
            self.model_dump(mode="json", exclude_none=True),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def spec_hash(self) -> str:
        return _hash(self.canonical_json())

    def transform_hash(self) -> str:
        """Hash of what decides a datum's output: cmd, stdin, image, env, secret references, err_cmd,
        err_stdin, working_dir, accept_return_code. Not description, parallelism or resources."""
        t = self.transform
        covered = {
            "cmd": list(t.cmd),
            "stdin": list(t.stdin),
            "image": t.image,
            "env": t.env,
            "secrets": [s.model_dump(mode="json") for s in t.secrets],
            "err_cmd": list(t.err_cmd),
            "err_stdin": list(t.err_stdin),
            "working_dir": t.working_dir,
            "accept_return_code": sorted(set(t.accept_return_code)),
        }
        return _hash(json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=32).hexdigest()


def _fill_cron_repos(node: Any, pipeline: str) -> Any:
    """Default each cron input's repo to `<pipeline>_<name>` (copies; the caller's dicts are untouched)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    cron = out.get("cron")
    if isinstance(cron, dict) and "repo" not in cron and isinstance(cron.get("name"), str):
        out["cron"] = {**cron, "repo": f"{pipeline}_{cron['name']}"}
    for kind in ("cross", "union", "join", "group"):
        if isinstance(out.get(kind), list):
            out[kind] = [_fill_cron_repos(child, pipeline) for child in out[kind]]
    return out


# ---- parsing -------------------------------------------------------------------------------------


def spec_from_dict(data: Any) -> PipelineSpec:
    """Validate one decoded spec document."""
    if not isinstance(data, dict):
        raise Invalid("a pipeline spec must be an object (a mapping of fields)")
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from None


def parse_spec(text: str | bytes, *, fmt: Format | None = None) -> PipelineSpec:
    """Parse one pipeline spec from JSON or YAML text (`fmt=None` guesses from the first character)."""
    docs = load_documents(text, fmt=fmt)
    if len(docs) != 1:
        raise Invalid(f"expected one pipeline spec, found {len(docs)}: use parse_specs")
    return spec_from_dict(docs[0])


def parse_specs(text: str | bytes, *, fmt: Format | None = None) -> list[PipelineSpec]:
    """Every spec in a JSON stream or a multi-document YAML file, as `pachctl create pipeline -f` takes."""
    return [spec_from_dict(doc) for doc in load_documents(text, fmt=fmt)]
