"""Base classes of every wire model: frozen, strict about unknown fields, versioned."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Wire(BaseModel):
    """A value that crosses a process boundary."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Request(Wire):
    """An RPC request; `METHOD` is the subject suffix, `REPLY` the model of its answer."""

    SERVICE: ClassVar[str] = ""
    METHOD: ClassVar[str] = ""
    REPLY: ClassVar[type[BaseModel]]


class Empty(Wire):
    """A reply that carries nothing but success."""


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
