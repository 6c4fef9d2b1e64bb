"""The `repo@ref:/path` grammar of the CLI."""

from __future__ import annotations

import pytest

from tusk.uri import Address, parse
from tusk_common.errors import Invalid

ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("images", Address("images")),
        ("images@master", Address("images", "master")),
        ("images@master:/cats/1.png", Address("images", "master", "/cats/1.png")),
        ("images@master:cats/1.png", Address("images", "master", "/cats/1.png")),
        ("images@master:/cats/", Address("images", "master", "/cats", dir_like=True)),
        ("images@master:", Address("images", "master", "/", dir_like=True)),
        ("images@master^2:/a", Address("images", "master^2", "/a")),
        ("images@master^:/a", Address("images", "master^", "/a")),
        ("images@master~3", Address("images", "master~3")),
        (f"images@{ID}:/a", Address("images", ID, "/a")),
        (f"images@{ID}^1", Address("images", f"{ID}^1")),
        ("images@master:/a@b:c d", Address("images", "master", "/a@b:c d")),
        ("images@master:/ünï cödé/#1?", Address("images", "master", "/ünï cödé/#1?")),
    ],
)
def test_parse_accepts_the_pachctl_forms(text: str, expected: Address) -> None:
    assert parse(text) == expected


def test_parse_round_trips_through_str() -> None:
    assert str(parse("images@master^2:/a/b")) == "images@master^2:/a/b"


@pytest.mark.parametrize(
    ("text", "rules", "message"),
    [
        ("", {}, "repo name"),
        ("@master", {}, "repo name"),
        ("images@", {}, "empty ref"),
        ("images:/a", {}, "no ref"),
        ("im.ages@master", {}, "repo"),
        ("images@mas.ter", {}, "not a branch"),
        ("images@master^x", {}, "not a branch"),
        ("images", {"need_ref": True}, "needs a ref"),
        ("images@master", {"need_path": True}, "needs a path"),
        ("images@master:/a", {"allow_path": False}, "must not have a path"),
        ("images@master:/a/../b", {}, "'..'"),
        ("images@master:/a//b", {}, "empty"),
        ("images@master:", {"pattern": True}, "glob pattern"),
    ],
)
def test_parse_rejects_malformed_addresses(text: str, rules: dict[str, bool], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse(text, **rules)


def test_glob_patterns_are_kept_as_typed() -> None:
    assert parse("images@master:**.png", pattern=True).path == "/**.png"
    assert parse("images@master:/a/*/[ab]?.csv", pattern=True).path == "/a/*/[ab]?.csv"
