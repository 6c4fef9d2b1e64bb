"""Rules of a pipeline spec that span several fields: input names, join/group keys, self-reads.

Each model checks its own fields; these need the whole input tree and the pipeline's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tusk_scheduler.domain.spec import Input, PipelineSpec

Loc = tuple[str | int, ...]
RESERVED_INPUT_NAMES = frozenset({"out"})  # /pfs/out is the output directory


@dataclass
class SpecError(Exception):
    loc: Loc
    message: str


def check_pipeline(spec: PipelineSpec) -> None:
    """Raise `SpecError` at the first rule the spec's input tree breaks."""
    _names(spec.input, ("input",), parent=None, pipeline=spec.pipeline.name)


def _names(inp: Input, loc: Loc, *, parent: str | None, pipeline: str) -> dict[str, Loc]:
    """Check `inp` and return the input names its datums mount (name -> where it is defined)."""
    kind = inp.kind
    if kind == "pfs":
        pfs = inp.pfs
        assert pfs is not None
        here = (*loc, "pfs")
        if pfs.repo == pipeline:
            raise SpecError((*here, "repo"), f"a pipeline cannot read its own output repo {pipeline!r}")
        if pfs.name in RESERVED_INPUT_NAMES:
            raise SpecError((*here, "name"), f"{pfs.name!r} is reserved for the output (/pfs/out)")
        for field, allowed_in in (("join_on", "join"), ("outer_join", "join"), ("group_by", "group")):
            if getattr(pfs, field) and parent != allowed_in:
                raise SpecError((*here, field), f"only applies to an input directly inside {allowed_in}")
        return {pfs.name: (*here, "name")}
    if kind == "cron":
        cron = inp.cron
        assert cron is not None
        here = (*loc, "cron")
        if cron.repo == pipeline:
            raise SpecError((*here, "repo"), f"a pipeline cannot read its own output repo {pipeline!r}")
        if cron.name in RESERVED_INPUT_NAMES:
            raise SpecError((*here, "name"), f"{cron.name!r} is reserved for the output (/pfs/out)")
        return {cron.name: (*here, "name")}

    names: dict[str, Loc] = {}
    for i, child in enumerate(inp.children):
        child_loc = (*loc, kind, i)
        if kind in ("join", "group"):
            key = "join_on" if kind == "join" else "group_by"
            if child.pfs is None:
                raise SpecError(child_loc, f"the inputs of a {kind} must be pfs inputs (with {key})")
            if getattr(child.pfs, key) is None:
                raise SpecError((*child_loc, "pfs", key), f"is required for an input of a {kind}")
        child_names = _names(child, child_loc, parent=kind, pipeline=pipeline)
        for name, where in child_names.items():
            if name in names and kind != "union":
                raise SpecError(
                    where,
                    f"duplicate input name {name!r} in {kind} (also at {format_path(names[name])}); "
                    "give each input a distinct name",
                )
            names.setdefault(name, where)
    return names


def format_path(loc: Loc) -> str:
    """('input', 'cross', 1, 'pfs') -> 'input.cross[1].pfs'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
