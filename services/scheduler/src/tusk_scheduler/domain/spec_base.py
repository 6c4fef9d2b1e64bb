"""The base of the spec models: snake_case/camelCase keys, closed models, errors with field paths.

A validator raises `fail(message, *loc)`; `invalid_from` turns pydantic's errors into one
`tusk_common.errors.Invalid` whose `field` is the snake_case path of the first error.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tusk_common.errors import Invalid
from tusk_common.naming import check_name
from tusk_scheduler.domain.spec_rules import format_path

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NOT_SUPPORTED = "not supported by Tusk"


def fail(message: str, *loc: str | int) -> PydanticCustomError:
    """An error at `loc` below the model being validated (pydantic knows the model's own location)."""
    return PydanticCustomError("tusk", message, {"loc": loc})


def valid_name(value: str) -> str:
    """Repo, branch and input names follow `tusk_common.naming.check_name`."""
    try:
        return str(check_name(value, field="name"))
    except Invalid:
        raise fail(f"{value!r} is not a valid name: use 1-63 letters, digits, '_' or '-'") from None


class SpecModel(BaseModel):
    """Frozen, closed models that take snake_case or camelCase keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    # Pachyderm fields of this message that Tusk does not run, with a hint for the user.
    unsupported: ClassVar[Mapping[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _normalize_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        spelled: dict[str, str] = {}
        for key, value in data.items():
            if not isinstance(key, str):
                raise fail(f"keys must be strings, got {key!r}")
            snake = key if key in cls.model_fields else _CAMEL.sub("_", key).lower()
            if snake in cls.unsupported:
                hint = cls.unsupported[snake]
                raise fail(f"{NOT_SUPPORTED}{': ' + hint if hint else ''}", snake)
            if snake not in cls.model_fields:
                close = difflib.get_close_matches(snake, list(cls.model_fields), n=1)
                raise fail("unknown field" + (f" (did you mean {close[0]!r}?)" if close else ""), key)
            if snake in out:
                raise fail(f"given twice (as {spelled[snake]!r} and {key!r})", snake)
            out[snake] = value
            spelled[snake] = key
        return cls._defaults(out)

    @classmethod
    def _defaults(cls, data: dict[str, Any]) -> dict[str, Any]:
        return data


class Project(SpecModel):
    name: StrictStr

    @field_validator("name")
    @classmethod
    def _default_only(cls, v: str) -> str:
        if v != "default":
            raise fail(f"project {v!r} is {NOT_SUPPORTED}: Tusk has only the 'default' project")
        return v


def default_project(v: str | None) -> str | None:
    """Tusk has one project; Pachyderm specs may still name it."""
    if v is not None and v != "default":
        raise fail(f"project {v!r} is {NOT_SUPPORTED}: Tusk has only the 'default' project")
    return v


class PipelineRef(SpecModel):
    name: StrictStr
    project: Project | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return valid_name(v)


# ---- errors ----------------------------------------------------------------------------------------

_MESSAGES = {
    "extra_forbidden": "unknown field",  # SpecModel reports these itself, with a suggestion
    "missing": "is required",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "datetime_type": "must be an RFC 3339 time",
}


def _message(err: Any) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("enum", "literal_error"):
        return f"must be one of {ctx.get('expected', '')}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be {'>=' if kind == 'greater_than_equal' else '>'} {ctx.get('ge', ctx.get('gt'))}"
    return _MESSAGES.get(kind, str(err["msg"]))


def invalid_from(exc: ValidationError) -> Invalid:
    """One `Invalid` for a spec's validation errors: the first names `field`, all are in details."""
    errors = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"]) + tuple((err.get("ctx") or {}).get("loc", ()))
        errors.append({"field": format_path(loc), "message": _message(err)})
    text = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
    return Invalid(text, field=errors[0]["field"] or None, errors=errors)
