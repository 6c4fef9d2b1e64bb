"""Which datums a job runs, which it skips, and how the outputs of all current datums combine.

A datum is skipped iff the previous job's datum with the same id has the same hash and ended `success`
or `skipped` (its output is valid and carried over); `failed`, `recovered` and unfinished ones run
again. Datums of the previous job that no longer exist are removed with their outputs.
`reprocess_spec: every_job` runs every datum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from tusk_common.errors import Conflict, Invalid
from tusk_scheduler.domain.datums import Datum
from tusk_scheduler.domain.spec import ReprocessSpec
from tusk_scheduler.domain.states import DATUM_DONE, DatumState

Outputs = Mapping[str, str]  # output path -> content hash


class PreviousDatum(NamedTuple):
    """What the previous job recorded for a datum id; plain `(hash, state, outputs)` tuples work too."""

    datum_hash: str
    state: DatumState | str
    outputs: Outputs = {}


@dataclass(frozen=True)
class Plan:
    run: tuple[Datum, ...]
    skip: tuple[Datum, ...]
    remove: tuple[str, ...]  # ids of previous datums whose inputs disappeared, sorted
    carried: Mapping[str, Outputs] = field(default_factory=dict)  # skipped datum id -> its outputs
    replaced: tuple[str, ...] = ()  # ids that ran before and run again: their old outputs are dropped


def plan(
    current: Sequence[Datum],
    previous: Mapping[str, PreviousDatum | tuple[str, str, Outputs]],
    reprocess: ReprocessSpec | str = ReprocessSpec.UNTIL_SUCCESS,
) -> Plan:
    """Split `current` into datums to run and to skip; list the previous ids that are gone."""
    every_job = ReprocessSpec(reprocess) == ReprocessSpec.EVERY_JOB
    run: list[Datum] = []
    skip: list[Datum] = []
    carried: dict[str, Outputs] = {}
    replaced: list[str] = []
    ids: set[str] = set()
    for datum in current:
        if datum.datum_id in ids:
            raise Invalid(f"datum {datum.datum_id} appears twice in one job")
        ids.add(datum.datum_id)
        before = previous.get(datum.datum_id)
        if before is not None:
            prev = PreviousDatum(*before)
            if not every_job and prev.datum_hash == datum.datum_hash and _done(prev.state):
                skip.append(datum)
                carried[datum.datum_id] = prev.outputs
                continue
            replaced.append(datum.datum_id)
        run.append(datum)
    remove = tuple(sorted(k for k in previous if k not in ids))
    return Plan(tuple(run), tuple(skip), remove, carried, tuple(replaced))


def _done(state: DatumState | str) -> bool:
    try:
        return DatumState(state) in DATUM_DONE
    except ValueError:
        return False


def merge_outputs(per_datum_outputs: Mapping[str, Outputs]) -> dict[str, str]:
    """The output commit's files: the union of every datum's outputs.

    Two datums writing one path with different content, or one writing a file where another writes a
    directory, raise Conflict naming both datums and the path. Equal content from two datums is fine.
    """
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    for datum_id in sorted(per_datum_outputs):
        for path, content in per_datum_outputs[datum_id].items():
            had = merged.get(path)
            if had is None:
                merged[path] = content
                owner[path] = datum_id
            elif had != content:
                raise _conflict(owner[path], datum_id, path, "both write {path} with different content")
    _check_file_vs_dir(merged, owner)
    return merged


def _check_file_vs_dir(merged: Mapping[str, str], owner: Mapping[str, str]) -> None:
    for path in sorted(merged):
        end = len(path)
        while (cut := path.rfind("/", 0, end)) > 0:
            parent = path[:cut]
            if parent in merged:
                raise _conflict(
                    owner[parent], owner[path], parent, "write {path} as a file and as a directory"
                )
            end = cut


def _conflict(a: str, b: str, path: str, what: str) -> Conflict:
    first, second = sorted((a, b))
    if first == second:
        return Conflict(
            f"datum {first} writes {path} as a file and as a directory", datums=[first], path=path
        )
    return Conflict(
        f"datums {first} and {second} {what.format(path=path)}", datums=[first, second], path=path
    )
