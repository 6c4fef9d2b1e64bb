"""Pachyderm glob semantics, pure: what matches, what is pruned, malformed patterns."""

from __future__ import annotations

import pytest

from tusk_common.errors import Invalid
from tusk_versioning.domain.glob import compile_glob


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/", "/", True),
        ("/", "/a", False),
        ("/*", "/a", True),
        ("/*", "/a/b", False),
        ("/*", "/", False),
        ("/**", "/a/b/c", True),
        ("/**", "/", False),
        ("/*/*", "/a/b", True),
        ("/*/*", "/a", False),
        ("/a/*.csv", "/a/x.csv", True),
        ("/a/*.csv", "/a/b/x.csv", False),
        ("/**.csv", "/a/b/x.csv", True),
        ("/**/*.csv", "/x.csv", False),
        ("/**/*.csv", "/a/x.csv", True),
        ("/?.txt", "/a.txt", True),
        ("/?.txt", "/ab.txt", False),
        ("/[a-c]*", "/banana", True),
        ("/[a-c]*", "/date", False),
        ("/[!a-c]*", "/date", True),
        ("/[^a-c]*", "/apple", False),
        ("/{cats,dogs}/*", "/dogs/1.png", True),
        ("/{cats,dogs}/*", "/birds/1.png", False),
        ("/{a,b{c,d}}", "/bd", True),
        ("/\\*", "/*", True),
        ("/\\*", "/a", False),
        ("*.csv", "/x.csv", True),
        ("/dir/", "/dir", True),
        ("/a.b", "/aXb", False),
        ("/(*)-(*).txt", "/x-y.txt", True),
    ],
)
def test_glob_matches_like_pachyderm(pattern, path, expected):
    assert compile_glob(pattern).match(path) is expected


def test_capture_groups_return_the_matched_text():
    g = compile_glob("/(*)/(*).csv")
    assert g.captures("/2024/jan.csv") == ("2024", "jan")
    assert g.captures("/2024/jan.txt") is None


@pytest.mark.parametrize(
    ("pattern", "parts", "expected"),
    [
        ("/*", (), True),
        ("/*", ("a",), False),
        ("/a/*", ("a",), True),
        ("/a/*", ("b",), False),
        ("/*/x", ("q",), True),
        ("/*/x", ("q", "x"), False),
        ("/a/**", ("a", "b", "c"), True),
        ("/a/**", ("b",), False),
        ("/**", ("z", "z"), True),
        ("/", (), False),
        ("/{a/b,c}", ("q",), True),  # a '/' inside braces: no pruning, still correct
    ],
)
def test_may_descend_prunes_directories_that_cannot_hold_a_match(pattern, parts, expected):
    assert compile_glob(pattern).may_descend(parts) is expected


@pytest.mark.parametrize("pattern", ["", "   ", "/[abc", "/{a,b", "/(a", "/a\\", "/a}", "/\x00"])
def test_malformed_patterns_are_invalid_naming_the_field(pattern):
    with pytest.raises(Invalid) as err:
        compile_glob(pattern)
    assert err.value.field == "pattern"


def test_a_class_never_matches_the_separator():
    assert not compile_glob("/a[/]b").match("/a/b")
    assert not compile_glob("/a[!x]b").match("/a/b")
