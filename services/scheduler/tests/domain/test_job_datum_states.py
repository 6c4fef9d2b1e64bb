"""Job and datum state machines: allowed moves pass, every other move is a Conflict."""

from __future__ import annotations

import itertools

import pytest

from tusk_common.errors import Conflict
from tusk_scheduler.domain.states import (
    DATUM_TRANSITIONS,
    JOB_TRANSITIONS,
    DatumState,
    JobState,
    can_transition,
    is_terminal,
    transition,
)

J, D = JobState, DatumState

JOB_ALLOWED = {
    (J.CREATED, J.STARTING),
    (J.CREATED, J.FAILURE),
    (J.CREATED, J.KILLED),
    (J.CREATED, J.UNRUNNABLE),
    (J.STARTING, J.RUNNING),
    (J.STARTING, J.FAILURE),
    (J.STARTING, J.KILLED),
    (J.STARTING, J.UNRUNNABLE),
    (J.RUNNING, J.FINISHING),
    (J.RUNNING, J.FAILURE),
    (J.RUNNING, J.KILLED),
    (J.FINISHING, J.SUCCESS),
    (J.FINISHING, J.FAILURE),
    (J.FINISHING, J.KILLED),
}
DATUM_ALLOWED = {(D.STARTING, D.SUCCESS), (D.STARTING, D.FAILED), (D.STARTING, D.RECOVERED)}


def test_the_state_names_are_pachyderms():
    assert [s.value for s in J] == [
        "created",
        "starting",
        "running",
        "finishing",
        "success",
        "failure",
        "killed",
        "unrunnable",
    ]
    assert [s.value for s in D] == ["starting", "success", "skipped", "failed", "recovered"]


@pytest.mark.parametrize(("current", "target"), list(itertools.product(J, J)) + list(itertools.product(D, D)))
def test_transition_allows_exactly_the_table(current, target):
    # Separate tables: a StrEnum equals its value, so JobState.STARTING == DatumState.STARTING.
    allowed = (current, target) in (JOB_ALLOWED if isinstance(current, JobState) else DATUM_ALLOWED)
    assert can_transition(current, target) is allowed
    if allowed:
        assert transition(current, target) is target
    else:
        with pytest.raises(Conflict) as err:
            transition(current, target)
        assert err.value.details == {"from_state": current.value, "to_state": target.value}
        assert f"from {current.value} to {target.value}" in err.value.message


def test_terminal_states():
    assert {s for s in J if is_terminal(s)} == {J.SUCCESS, J.FAILURE, J.KILLED, J.UNRUNNABLE}
    assert {s for s in D if is_terminal(s)} == {D.SUCCESS, D.SKIPPED, D.FAILED, D.RECOVERED}
    assert set(JOB_TRANSITIONS) == set(J) and set(DATUM_TRANSITIONS) == set(D)


def test_a_finished_job_says_so():
    with pytest.raises(Conflict, match="a job that is success is finished"):
        transition(J.SUCCESS, J.RUNNING)


def test_job_and_datum_states_do_not_mix():
    with pytest.raises(TypeError):
        can_transition(J.RUNNING, D.SUCCESS)  # type: ignore[type-var]
