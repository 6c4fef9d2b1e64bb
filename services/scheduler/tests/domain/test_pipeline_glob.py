"""The glob grammar on absolute paths of files and directories, with captures (Pachyderm/ohmyglob semantics)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tusk_common.errors import Invalid
from tusk_scheduler.domain.glob import compile_glob, expand_template, match, template_groups

PATHS = ["/", "/a", "/a/b", "/a/b/c.csv", "/x.csv", "/dir", "/dir/x.csv", "/dir/sub/y.csv", "/.hidden"]

# pattern -> the paths of PATHS it matches (the datum table of Pachyderm's glob docs, and more)
TABLE = {
    "/": ["/"],
    "/*": ["/a", "/x.csv", "/dir", "/.hidden"],
    "/*/*": ["/a/b", "/dir/x.csv", "/dir/sub"],
    "/**": [
        "/a",
        "/a/b",
        "/a/b/c.csv",
        "/x.csv",
        "/dir",
        "/dir/x.csv",
        "/dir/sub",
        "/dir/sub/y.csv",
        "/.hidden",
    ],
    "/**.csv": ["/a/b/c.csv", "/x.csv", "/dir/x.csv", "/dir/sub/y.csv"],
    "/*.csv": ["/x.csv"],
    "/**/*.csv": ["/a/b/c.csv", "/dir/x.csv", "/dir/sub/y.csv"],
    "/dir/**": ["/dir/x.csv", "/dir/sub", "/dir/sub/y.csv"],
    "/dir": ["/dir"],
    "/dir/": ["/dir"],
    "/?": ["/a"],
    "/[a-d]*": ["/a", "/dir"],
    "/[!a-d]*": ["/x.csv", "/.hidden"],
    "/[^a-d]*": ["/x.csv", "/.hidden"],
    "/{a,dir}": ["/a", "/dir"],
    "/{a,dir}/*": ["/a/b", "/dir/x.csv", "/dir/sub"],
    "/{a/b,dir/sub}/*": ["/a/b/c.csv", "/dir/sub/y.csv"],
    "/(*)": ["/a", "/x.csv", "/dir", "/.hidden"],
    "/(a|dir)/(*)": ["/a/b", "/dir/x.csv", "/dir/sub"],
}

# The subtree of paths the table runs against, including the implicit directory /dir/sub.
ALL = sorted({*PATHS, "/dir/sub"})


@pytest.mark.parametrize(("pattern", "expected"), TABLE.items(), ids=list(TABLE))
def test_glob_matches_files_and_directories_like_pachyderm(pattern, expected):
    g = compile_glob(pattern)
    assert sorted(p for p in ALL if g.match(p) is not None) == sorted(expected)


@pytest.mark.parametrize(
    ("pattern", "path", "captures"),
    [
        ("/(*)/(*).csv", "/2024/jan.csv", ("2024", "jan")),
        ("/(*)/(*).csv", "/2024/jan.txt", None),
        ("/(*)-(*).txt", "/x-y.txt", ("x", "y")),
        ("/(**)/(*).txt", "/a/b/c.txt", ("a/b", "c")),
        ("/((*)/(*))", "/a/b", ("a/b", "a", "b")),
        ("/(a|b)x", "/bx", ("b",)),
        ("/{(a)x,(b)y}", "/by", ("", "b")),  # a group on the branch not taken captures ""
        ("/*", "/a", ()),
        ("/*", "/a/", ()),  # a directory written with its trailing slash
    ],
)
def test_match_returns_the_captures(pattern, path, captures):
    assert match(pattern, path) == captures


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/\\*", "/*", True),
        ("/\\*", "/a", False),
        ("/a.b", "/aXb", False),  # regex metacharacters are literal
        ("/a+", "/aa", False),
        ("/a$", "/a$", True),
        ("/x,y", "/x,y", True),  # a comma outside braces is literal
        ("/x|y", "/x|y", True),  # so is a bar outside parentheses
        ("/[]]", "/]", True),  # a ']' first in a class is literal
        ("/[a-]", "/-", True),
        ("/**", "/", False),  # only "/" matches the root
        ("/", "/a", False),
        ("/*/", "/a", True),
    ],
)
def test_literals_escapes_and_edges(pattern, path, matches):
    assert (match(pattern, path) is not None) is matches


@pytest.mark.parametrize(
    ("pattern", "groups", "prefix"),
    [
        ("/", 0, "/"),
        ("/a/b/*", 0, "/a/b/"),
        ("/(*)/(*)", 2, "/"),
        ("/data/{x,y}", 0, "/data/"),
        ("/\\*a*", 0, "/*a"),
    ],
)
def test_compiled_glob_knows_its_groups_and_literal_prefix(pattern, groups, prefix):
    g = compile_glob(pattern)
    assert (g.groups, g.literal_prefix) == (groups, prefix)


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "*",
        "a/b",
        "/[abc",
        "/[z-a]",
        "/{a,b",
        "/(a",
        "/a)",
        "/a}",
        "/a]",
        "/a\\",
        "/a//b",
        "/./a",
        "/a/..",
        "/[/]",
        "/[+-0]",
        "/\x00",
    ],
)
def test_malformed_globs_are_invalid_naming_the_field(pattern):
    with pytest.raises(Invalid) as err:
        compile_glob(pattern, field="input.pfs.glob")
    assert err.value.field == "input.pfs.glob"


def test_compiling_is_cached():
    assert compile_glob("/(*)/x") is compile_glob("/(*)/x")


@pytest.mark.parametrize(
    ("template", "captures", "expected", "groups"),
    [
        ("$1", ("a", "b"), "a", [1]),
        ("$2-$1", ("a", "b"), "b-a", [2, 1]),
        ("${1}0", ("a",), "a0", [1]),
        ("$$1", ("a",), "$1", []),
        ("k", ("a",), "k", []),
    ],
)
def test_join_and_group_templates_expand_captures(template, captures, expected, groups):
    assert expand_template(template, captures) == expected
    assert template_groups(template) == groups


_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))


@given(st.lists(_segment, min_size=1, max_size=5))
def test_an_escaped_literal_path_matches_exactly_itself(parts):
    path = "/" + "/".join(parts)
    pattern = "/" + "/".join(re.sub(r"([*?\[\]{}()\\,|])", r"\\\1", p) for p in parts)
    g = compile_glob(pattern)
    assert g.match(path) == ()
    assert g.match(path + "x") is None
    assert g.match(path + "/x") is None


@given(st.lists(_segment, min_size=1, max_size=5))
def test_star_matches_exactly_the_paths_of_its_depth(parts):
    path = "/" + "/".join(parts)
    depth_glob = "/" + "/".join("*" for _ in parts)
    assert compile_glob(depth_glob).match(path) == ()
    assert compile_glob(depth_glob + "/*").match(path) is None
    assert compile_glob("/**").match(path) == ()
