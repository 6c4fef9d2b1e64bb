"""Base classes of every wire model: frozen, versioned, and forward compatible.

A field a newer peer added is ignored by an older reader, so services upgraded one at a time (a rolling
deploy, each service scaling on its own) keep understanding each other: fields are only ever added with
a default, never renamed or given another meaning; a change that cannot be made that way is a new RPC
method or a new event type (`io.tusk.<kind>.v2`). Code constructing these models is checked by mypy's
pydantic plugin with `init_forbid_extra`, so a misspelled keyword is still an error there. Request bodies
of the public REST API are their own models, which refuse unknown fields with a 400 naming them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Wire(BaseModel):
    """A value that crosses a process boundary."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Request(Wire):
    """An RPC request; `METHOD` is the subject suffix, `REPLY` the model of its answer."""

    SERVICE: ClassVar[str] = ""
    METHOD: ClassVar[str] = ""
    REPLY: ClassVar[type[BaseModel]]


class Empty(Wire):
    """A reply that carries nothing but success."""


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
