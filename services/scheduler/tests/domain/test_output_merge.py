"""The output commit is the union of the datums' outputs; colliding writes name both datums."""

from __future__ import annotations

import pytest

from tusk_common.errors import Conflict
from tusk_scheduler.domain.incremental import merge_outputs


def test_outputs_of_all_datums_are_merged():
    merged = merge_outputs({"d1": {"/a": "h1"}, "d2": {"/b/c": "h2"}, "d3": {}})
    assert merged == {"/a": "h1", "/b/c": "h2"}


def test_the_same_content_at_one_path_from_two_datums_is_allowed():
    assert merge_outputs({"d1": {"/total": "h"}, "d2": {"/total": "h"}}) == {"/total": "h"}


def test_different_content_at_one_path_names_both_datums_and_the_path():
    with pytest.raises(Conflict) as err:
        merge_outputs({"d2": {"/count.txt": "h2"}, "d1": {"/count.txt": "h1", "/ok": "x"}})
    assert err.value.message == "datums d1 and d2 both write /count.txt with different content"
    assert err.value.details == {"datums": ["d1", "d2"], "path": "/count.txt"}


def test_a_file_where_another_datum_writes_a_directory_is_a_conflict():
    with pytest.raises(Conflict) as err:
        merge_outputs({"d1": {"/x": "h"}, "d2": {"/x/y": "h"}})
    assert err.value.details == {"datums": ["d1", "d2"], "path": "/x"}
    assert "d1" in err.value.message and "d2" in err.value.message


def test_one_datum_writing_a_file_and_a_directory_at_one_path_is_a_conflict():
    with pytest.raises(Conflict, match="datum d1 writes /x as a file and as a directory"):
        merge_outputs({"d1": {"/x": "h", "/x/y": "h"}})


def test_merging_is_linear_for_many_datums():
    outputs = {f"d{i}": {f"/out/{i:05}.txt": "h", "/shared": "s"} for i in range(10_000)}
    merged = merge_outputs(outputs)
    assert len(merged) == 10_001
