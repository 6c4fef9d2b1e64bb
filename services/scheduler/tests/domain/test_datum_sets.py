"""Cutting a job's datums into datum sets: defaults after Pachyderm, `datum_set_spec`, the scheduler's cap."""

from __future__ import annotations

import pytest

from tusk_common.errors import Invalid
from tusk_scheduler.domain.datum_sets import cut, set_limits
from tusk_scheduler.domain.spec import DatumSetSpec, spec_from_dict


def test_by_default_a_job_is_cut_into_four_sets_per_unit_of_parallelism():
    assert set_limits(None, 1000, 1, 10_000) == (250, 0)
    assert set_limits(None, 1000, 4, 10_000) == (63, 0)
    assert set_limits(None, 6, 3, 10_000) == (1, 0)  # fewer datums than sets wanted: one datum each
    assert set_limits(None, 0, 1, 10_000) == (1, 0)


def test_the_scheduler_caps_a_default_set_but_not_an_explicit_number():
    assert set_limits(None, 1000, 1, 100) == (100, 0)
    assert set_limits(DatumSetSpec(number=500), 1000, 1, 100) == (500, 0)
    assert set_limits(DatumSetSpec(per_worker=2), 1000, 1, 100) == (100, 0)


def test_the_first_limit_reached_closes_a_set():
    assert set_limits(DatumSetSpec(number=10, per_worker=1), 1000, 4, 10_000) == (10, 0)
    assert set_limits(DatumSetSpec(number=10, per_worker=100), 1000, 4, 10_000) == (3, 0)
    # size_bytes alone: as many datums as fit in the bytes
    assert set_limits(DatumSetSpec(size_bytes=4096), 50, 1, 100) == (50, 4096)


def test_cut_keeps_order_and_bounds_count_and_bytes():
    items = list("abcdefg")
    assert cut(items, [1] * 7, 3, 0) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    sizes = [5, 5, 20, 1, 1, 1, 9]
    assert cut(items, sizes, 100, 10) == [["a", "b"], ["c"], ["d", "e", "f"], ["g"]]
    assert cut([], [], 3, 0) == []
    # every datum is in exactly one set, whatever the limits
    for number in (1, 2, 5, 100):
        for size_bytes in (0, 1, 7, 1000):
            sets = cut(items, sizes, number, size_bytes)
            assert [x for s in sets for x in s] == items
            assert all(len(s) <= number for s in sets)
            assert all(len(s) == 1 or sum(sizes[items.index(x)] for x in s) <= size_bytes or not size_bytes
                       for s in sets)  # fmt: skip


def _spec(**extra: object) -> dict[str, object]:
    return {"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "in", "glob": "/*"}},
            "transform": {"cmd": ["true"]}, **extra}  # fmt: skip


def test_datum_set_spec_is_read_in_both_spellings_and_checked():
    assert spec_from_dict(_spec(datum_set_spec={"number": 5})).datum_set_spec == DatumSetSpec(number=5)
    got = spec_from_dict(_spec(datumSetSpec={"sizeBytes": 1024, "perWorker": 2})).datum_set_spec
    assert got == DatumSetSpec(size_bytes=1024, per_worker=2)
    with pytest.raises(Invalid, match=r"datum_set_spec\.number"):
        spec_from_dict(_spec(datum_set_spec={"number": -1}))
    with pytest.raises(Invalid, match=r"datum_set_spec\.numbr: unknown field \(did you mean 'number'\?\)"):
        spec_from_dict(_spec(datum_set_spec={"numbr": 5}))


def test_a_set_too_big_for_one_message_is_halved_until_each_part_fits():
    from tusk_common.wire.pipelines import DatumSetTask, DatumTask, TaskInput, TaskTransform
    from tusk_scheduler.lifecycle import fit

    def task(i: int) -> DatumTask:
        return DatumTask(pipeline="p", pipeline_version=1, job="j", datum_id=f"{i:064d}", datum_hash="h",
                         commit_set="c", transform=TaskTransform(cmd=["true"]),
                         inputs=[TaskInput(name="in", repo="in", branch="master", commit="x", path="/" + "p" * 500)])  # fmt: skip

    whole = DatumSetTask.of([task(i) for i in range(10)])
    parts = fit(whole, 2048)
    assert [d for t, _ in parts for d in t.datums] == whole.datums
    assert all(len(body) <= 2048 for _, body in parts) and len(parts) > 1
    assert all(DatumSetTask.model_validate_json(body) == t for t, body in parts)
    one = DatumSetTask.of([task(0)])
    assert fit(one, 100) == [(one, one.model_dump_json(exclude_defaults=True).encode())]  # one datum always goes
