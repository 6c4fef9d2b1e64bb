"""Names, paths and refs users type are validated the same way at every edge."""

from __future__ import annotations

import pytest

from tusk_common.errors import Invalid
from tusk_common.naming import check_name, normalize_path, split_ref


@pytest.mark.parametrize("name", ["images", "a", "A_b-9", "x" * 63])
def test_valid_names_are_accepted(name):
    assert check_name(name, field="repo") == name


@pytest.mark.parametrize("name", ["", "a.b", "a b", "x" * 64, "é", "a/b", "../x"])
def test_invalid_names_are_rejected_naming_the_field(name):
    with pytest.raises(Invalid) as info:
        check_name(name, field="repo")
    assert info.value.field == "repo"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("/", "/"), ("/a", "/a"), ("/a/b.csv", "/a/b.csv"), ("/dir/", "/dir"), ("/ü nicode #1", "/ü nicode #1")],
)
def test_paths_are_normalized(raw, canonical):
    assert normalize_path(raw) == canonical


@pytest.mark.parametrize("raw", ["a", "", "/a/../b", "/a/./b", "/a//b", "/..", "/a\x00b", "/" + "x" * 256])
def test_bad_paths_are_rejected(raw):
    with pytest.raises(Invalid) as info:
        normalize_path(raw, field="path")
    assert info.value.field == "path"


def test_root_can_be_refused_where_a_file_is_needed():
    with pytest.raises(Invalid, match="must name a file"):
        normalize_path("/", allow_root=False)


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [("master", ("master", 0)), ("master^", ("master", 1)), ("master^3", ("master", 3)),
     ("master~2", ("master", 2)), ("master^^", ("master", 2)), ("a" * 32, ("a" * 32, 0))],
)
def test_refs_split_into_base_and_ancestor_count(ref, parsed):
    assert split_ref(ref) == parsed


@pytest.mark.parametrize("ref", ["", "^1", "mas ter", "a.b^1", "x/y"])
def test_bad_refs_are_rejected(ref):
    with pytest.raises(Invalid):
        split_ref(ref)
