"""Lineage: the SDK methods over `/api/v1/lineage/...` (provenance, commit sets, reproduce).

`LineageMethods` is a mixin of `tusk.Client`; `lineage_api(client)` gives the same methods for a client
built before the mixin was added.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from tusk import routes
from tusk.transport import Transport
from tusk_common.naming import check_name, normalize_path, split_ref

if TYPE_CHECKING:
    from tusk_common.wire.lineage import LineageReply, ReproducePlan

Direction = Literal["upstream", "downstream"]
Format = Literal["json", "tree", "dot", "mermaid"]


def _wire() -> ModuleType:
    """The lineage wire models, imported when first used: every `tusk` command would pay for them."""
    from tusk_common.wire import lineage

    return lineage


def lineage_url(repo: str, ref: str) -> str:
    check_name(repo, field="repo")
    split_ref(ref)
    return f"{routes.API}/lineage/{routes.segment(repo)}/{routes.segment(ref)}"


class LineageMethods:
    _t: Transport

    def lineage(self, repo: str, ref: str, path: str | None = None, *, direction: Direction = "upstream",
                depth: int = 10, format: Format = "json") -> LineageReply:  # fmt: skip
        """What a commit (or a file in it) came from (`upstream`) or what was derived from it.

        >>> client.lineage("edges", "master", "/cats/1.png").graph.nodes
        """
        query: dict[str, Any] = {"direction": direction, "depth": depth, "format": format}
        if path is not None:
            query["path"] = normalize_path(path)
        return _wire().LineageReply.model_validate(self._t.json("GET", lineage_url(repo, ref), params=query))

    def commit_set_lineage(self, commit_set: str, *, format: Format = "json") -> LineageReply:
        """Every commit and job of one commit set: the cascade of one change."""
        url = f"{routes.API}/lineage/commit-sets/{routes.segment(commit_set)}"
        return _wire().LineageReply.model_validate(self._t.json("GET", url, params={"format": format}))

    def reproduce(self, repo: str, ref: str, *, run: bool = False, keep: bool = False,
                  timeout: float = 600.0) -> ReproducePlan:  # fmt: skip
        """The exact inputs and pipeline versions that made a commit; `run=True` runs the step again into a
        scratch pipeline and compares the outputs (`plan.check`)."""
        url = lineage_url(repo, ref) + "/reproduce"
        if not run:
            return _wire().ReproducePlan.model_validate(self._t.json("GET", url))
        body = {"run": True, "keep": keep, "timeout": timeout}
        return _wire().ReproducePlan.model_validate(self._t.json("POST", url, json=body, timeout=timeout + 60))


class _Lineage(LineageMethods):
    def __init__(self, transport: Transport) -> None:
        self._t = transport


def lineage_api(client: Any) -> LineageMethods:
    """`client` itself when it has the lineage methods, else a view of it that does."""
    if isinstance(client, LineageMethods):
        return client
    return _Lineage(client._t)
