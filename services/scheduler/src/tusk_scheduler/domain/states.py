"""Job and datum states (Pachyderm's names, lower case) and the moves between them.

    job:   created ─► starting ─► running ─► finishing ─► success
              │           │          │            └─────► failure
              │           │          └──────────────────► failure
              ├───────────┴──────────┴────────────┴─────► killed       (stop job, job_timeout)
              └───────────┴─────────────────────────────► unrunnable   (an input commit failed)
    datum: starting ─► success | failed | recovered;  skipped is born terminal

Terminal states accept no move: a consumer that sees its target state already reached treats the
redelivered event as done (check `state == target` before calling `transition`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from tusk_common.errors import Conflict


class JobState(StrEnum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    FINISHING = "finishing"
    SUCCESS = "success"
    FAILURE = "failure"
    KILLED = "killed"
    UNRUNNABLE = "unrunnable"


class DatumState(StrEnum):
    STARTING = "starting"
    SUCCESS = "success"
    SKIPPED = "skipped"
    FAILED = "failed"
    RECOVERED = "recovered"


JOB_TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    JobState.CREATED: frozenset({JobState.STARTING, JobState.FAILURE, JobState.KILLED, JobState.UNRUNNABLE}),
    JobState.STARTING: frozenset({JobState.RUNNING, JobState.FAILURE, JobState.KILLED, JobState.UNRUNNABLE}),
    JobState.RUNNING: frozenset({JobState.FINISHING, JobState.FAILURE, JobState.KILLED}),
    JobState.FINISHING: frozenset({JobState.SUCCESS, JobState.FAILURE, JobState.KILLED}),
    JobState.SUCCESS: frozenset(),
    JobState.FAILURE: frozenset(),
    JobState.KILLED: frozenset(),
    JobState.UNRUNNABLE: frozenset(),
}

DATUM_TRANSITIONS: Mapping[DatumState, frozenset[DatumState]] = {
    DatumState.STARTING: frozenset({DatumState.SUCCESS, DatumState.FAILED, DatumState.RECOVERED}),
    DatumState.SUCCESS: frozenset(),
    DatumState.SKIPPED: frozenset(),
    DatumState.FAILED: frozenset(),
    DatumState.RECOVERED: frozenset(),
}

# A previous datum in one of these states has a valid output that a later job may carry over.
DATUM_DONE = frozenset({DatumState.SUCCESS, DatumState.SKIPPED})

S = TypeVar("S", JobState, DatumState)


def _table(state: JobState | DatumState) -> Mapping[StrEnum, frozenset[StrEnum]]:
    return JOB_TRANSITIONS if isinstance(state, JobState) else DATUM_TRANSITIONS  # type: ignore[return-value]


def can_transition(current: S, target: S) -> bool:
    if type(current) is not type(target):
        raise TypeError(f"cannot compare a {type(current).__name__} with a {type(target).__name__}")
    return target in _table(current)[current]


def transition(current: S, target: S) -> S:
    """Return `target` if a job/datum in `current` may move there, else raise Conflict."""
    if not can_transition(current, target):
        what = "job" if isinstance(current, JobState) else "datum"
        if is_terminal(current):
            reason = f"a {what} that is {current} is finished"
        else:
            allowed = ", ".join(sorted(_table(current)[current]))
            reason = f"a {what} that is {current} can only become {allowed}"
        raise Conflict(
            f"{what} cannot go from {current} to {target}: {reason}",
            from_state=str(current),
            to_state=str(target),
        )
    return target


def is_terminal(state: JobState | DatumState) -> bool:
    return not _table(state)[state]
