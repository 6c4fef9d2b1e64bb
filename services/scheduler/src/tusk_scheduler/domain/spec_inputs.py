"""The `input` tree of a pipeline spec: pfs, cross, union, join, group and cron inputs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, StrictBool, StrictStr, ValidationInfo, field_validator, model_validator

from tusk_common.errors import Invalid
from tusk_scheduler.domain.cron import parse_cron
from tusk_scheduler.domain.glob import compile_glob, template_groups
from tusk_scheduler.domain.spec_base import SpecModel, default_project, fail, valid_name


class PfsInput(SpecModel):
    unsupported: ClassVar[Mapping[str, str]] = {
        "repo_type": "inputs read user repos",
        "commit": "an input follows its branch",
        "s3": "inputs are files under /pfs/<name>",
        "trigger": "",
        "reference": "",
    }
    repo: StrictStr
    branch: StrictStr = "master"
    glob: StrictStr
    name: StrictStr
    lazy: StrictBool = False
    empty_files: StrictBool = False
    join_on: StrictStr | None = None
    outer_join: StrictBool = False
    group_by: StrictStr | None = None
    project: StrictStr | None = Field(default=None, exclude=True)

    @classmethod
    def _defaults(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "name" not in data and isinstance(data.get("repo"), str):
            data["name"] = data["repo"]
        return data

    @field_validator("repo", "branch")
    @classmethod
    def _check_names(cls, v: str) -> str:
        return valid_name(v)

    @field_validator("name")
    @classmethod
    def _check_input_name(cls, v: str, info: ValidationInfo) -> str:
        if "repo" not in info.data:  # the repo is already reported, and `name` defaults to it
            return v
        return valid_name(v)

    @field_validator("project")
    @classmethod
    def _check_project(cls, v: str | None) -> str | None:
        return default_project(v)

    @field_validator("glob")
    @classmethod
    def _check_glob(cls, v: str) -> str:
        try:
            return compile_glob(v).pattern
        except Invalid as exc:
            raise fail(exc.message) from None

    @model_validator(mode="after")
    def _check_keys(self) -> PfsInput:
        if self.lazy and self.empty_files:
            raise fail("cannot be combined with lazy", "empty_files")
        groups = compile_glob(self.glob).groups
        for field in ("join_on", "group_by"):
            template = getattr(self, field)
            if template is None:
                continue
            refs = template_groups(template)
            if not refs:
                raise fail(f"must refer to a capture group of glob {self.glob!r}, such as '$1'", field)
            bad = [n for n in refs if n < 1 or n > groups]
            if bad:
                raise fail(
                    f"refers to ${bad[0]} but glob {self.glob!r} has {groups} capture group(s) '(...)'", field
                )
        return self


class CronInput(SpecModel):
    name: StrictStr
    spec: StrictStr
    overwrite: StrictBool = False
    start: datetime | None = None
    repo: StrictStr
    project: StrictStr | None = Field(default=None, exclude=True)

    @field_validator("name", "repo")
    @classmethod
    def _check_names(cls, v: str) -> str:
        return valid_name(v)

    @field_validator("project")
    @classmethod
    def _check_project(cls, v: str | None) -> str | None:
        return default_project(v)

    @field_validator("spec")
    @classmethod
    def _check_spec(cls, v: str) -> str:
        try:
            return parse_cron(v).spec
        except Invalid as exc:
            raise fail(exc.message.removeprefix("spec ")) from None

    @field_validator("start", mode="before")
    @classmethod
    def _check_start(cls, v: Any) -> Any:
        if v is None:
            return v
        if not isinstance(v, str):
            raise fail("must be an RFC 3339 time such as '2024-05-01T00:00:00Z'")
        try:
            t = datetime.fromisoformat(v)
        except ValueError:
            raise fail(f"{v!r} is not an RFC 3339 time such as '2024-05-01T00:00:00Z'") from None
        if t.tzinfo is None:
            raise fail(f"{v!r} needs a time zone, such as 'Z'")
        return t


class Input(SpecModel):
    """Exactly one of pfs, cross, union, join, group, cron; cross/union/join/group nest."""

    KINDS: ClassVar[tuple[str, ...]] = ("pfs", "cross", "union", "join", "group", "cron")
    pfs: PfsInput | None = None
    cross: tuple[Input, ...] | None = None
    union: tuple[Input, ...] | None = None
    join: tuple[Input, ...] | None = None
    group: tuple[Input, ...] | None = None
    cron: CronInput | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Input:
        given = [k for k in self.KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            got = f" (got {' and '.join(given)})" if given else ""
            raise fail(f"exactly one of {', '.join(self.KINDS)} must be set{got}")
        kind = given[0]
        if kind not in ("pfs", "cron") and not getattr(self, kind):
            raise fail("must list at least one input", kind)
        return self

    @property
    def kind(self) -> str:
        return next(k for k in self.KINDS if getattr(self, k) is not None)

    @property
    def children(self) -> tuple[Input, ...]:
        value = getattr(self, self.kind)
        return value if isinstance(value, tuple) else ()


Input.model_rebuild()
