"""Incremental jobs: run what is new or changed, skip what succeeded, remove what disappeared."""

from __future__ import annotations

import time

import pytest
from pipelinekit import pfs, snap, spec

from tusk_common.errors import Invalid
from tusk_scheduler.domain.datums import Datum, datums_for
from tusk_scheduler.domain.incremental import PreviousDatum, plan
from tusk_scheduler.domain.spec import ReprocessSpec
from tusk_scheduler.domain.states import DatumState

SPEC = spec(pfs("in", "/*"))


def job(files, s=SPEC) -> list[Datum]:
    return datums_for(s, [snap("in", files)])


def record(datums, state=DatumState.SUCCESS) -> dict[str, PreviousDatum]:
    return {d.datum_id: PreviousDatum(d.datum_hash, state, {f"/out{d.inputs[0].path}": "h"}) for d in datums}


def paths(datums) -> list[str]:
    return [d.inputs[0].path for d in datums]


def test_first_job_runs_everything():
    p = plan(job({"/a": "1", "/b": "2"}), {})
    assert (paths(p.run), p.skip, p.remove, p.replaced) == (["/a", "/b"], (), (), ())


def test_ten_thousand_files_add_ten_change_five_runs_exactly_fifteen():
    files = {f"/f{i:05}": f"v1-{i}" for i in range(10_000)}
    first = job(files)
    previous = record(first)
    changed = {**files, **{f"/f{i:05}": f"v2-{i}" for i in range(5)}}
    changed.update({f"/new{i}": "n" for i in range(10)})
    second = job(changed)
    started = time.perf_counter()
    p = plan(second, previous)
    elapsed = time.perf_counter() - started
    assert len(p.run) == 15 and len(p.skip) == 9_995 and p.remove == ()
    assert sorted(paths(p.run)) == sorted([f"/f{i:05}" for i in range(5)] + [f"/new{i}" for i in range(10)])
    assert len(p.replaced) == 5
    assert len(p.carried) == 9_995 and p.carried[p.skip[0].datum_id] == {
        f"/out{p.skip[0].inputs[0].path}": "h"
    }
    assert elapsed < 1, elapsed


def test_deleted_inputs_are_removed():
    first = job({"/a": "1", "/b": "2", "/c": "3"})
    p = plan(job({"/a": "1"}), record(first))
    gone = {d.datum_id for d in first if d.inputs[0].path in ("/b", "/c")}
    assert set(p.remove) == gone and list(p.remove) == sorted(gone)
    assert paths(p.skip) == ["/a"] and p.run == ()


@pytest.mark.parametrize(
    ("state", "skipped"),
    [
        (DatumState.SUCCESS, True),
        (DatumState.SKIPPED, True),
        (DatumState.FAILED, False),
        (DatumState.RECOVERED, False),  # Pachyderm once skipped these forever (#4195)
        (DatumState.STARTING, False),  # the previous job was killed mid-datum
        ("success", True),
        ("unknown", False),
    ],
)
def test_only_datums_that_succeeded_are_skipped(state, skipped):
    first = job({"/a": "1"})
    p = plan(job({"/a": "1"}), record(first, state))
    assert (len(p.skip), len(p.run)) == ((1, 0) if skipped else (0, 1))
    if not skipped:
        assert p.replaced == (first[0].datum_id,)


def test_every_job_disables_skipping():
    first = job({"/a": "1", "/b": "2"})
    for reprocess in (ReprocessSpec.EVERY_JOB, "every_job"):
        p = plan(job({"/a": "1", "/b": "2"}), record(first), reprocess)
        assert paths(p.run) == ["/a", "/b"] and p.skip == ()


def test_new_code_reruns_every_datum():
    first = job({"/a": "1", "/b": "2"})
    v2 = spec(pfs("in", "/*"), transform={"cmd": ["python3", "v2.py"]})
    p = plan(job({"/a": "1", "/b": "2"}, v2), record(first))
    assert len(p.run) == 2 and p.skip == () and p.remove == ()


def test_previous_records_may_be_plain_tuples():
    first = job({"/a": "1"})
    previous: dict[str, tuple[str, str, dict[str, str]]] = {
        d.datum_id: (d.datum_hash, "success", {}) for d in first
    }
    assert len(plan(job({"/a": "1"}), previous).skip) == 1


def test_duplicate_datums_in_one_job_are_refused():
    datums = job({"/a": "1"})
    with pytest.raises(Invalid, match="appears twice"):
        plan(datums + datums, {})
