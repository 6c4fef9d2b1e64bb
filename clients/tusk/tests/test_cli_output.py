"""Human output: sizes, relative times and aligned tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tusk.cli.output import ago, human_size, table
from tusk.cli.progress import MIN_BYTES, TransferBar, wanted


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0B"), (512, "512B"), (1536, "1.5KiB"), (2_500_000, "2.384MiB"), (5 << 40, "5TiB")],
)
def test_human_size_uses_binary_units(n: int, text: str) -> None:
    assert human_size(n) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=0), "Less than a second ago"),
        (timedelta(seconds=30), "30 seconds ago"),
        (timedelta(seconds=70), "About a minute ago"),
        (timedelta(minutes=5), "5 minutes ago"),
        (timedelta(minutes=65), "About an hour ago"),
        (timedelta(hours=5), "5 hours ago"),
        (timedelta(days=3), "3 days ago"),
        (timedelta(days=40), "5 weeks ago"),
        (timedelta(days=800), "2 years ago"),
    ],
)
def test_ago_reads_like_pachctl(delta: timedelta, text: str) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert ago(now - delta, now) == text


def test_ago_of_nothing_is_a_dash() -> None:
    assert ago(None) == "-"


def test_table_aligns_columns_and_leaves_the_last_unpadded() -> None:
    out = table(("REPO", "SIZE", "DESCRIPTION"), [("a", "1B", "x"), ("longer", "10KiB", "")])
    assert out.splitlines() == ["REPO    SIZE   DESCRIPTION", "a       1B     x", "longer  10KiB"]


def test_progress_is_shown_only_on_a_terminal_for_big_transfers() -> None:
    assert wanted(100 << 20, tty=False) is False
    assert wanted(100 << 20, tty=True) is True
    assert wanted(10, tty=True) is False
    assert wanted(10, files=500, tty=True) is True
    assert wanted(None, tty=True) is None


def test_a_bar_of_unknown_size_appears_after_a_few_megabytes() -> None:
    from io import StringIO

    from rich.console import Console

    console = Console(file=StringIO(), force_terminal=True)
    with TransferBar("put", None, tty=True, console=console) as bar:
        bar(1024)
        assert not bar.shown
        bar(MIN_BYTES)
        assert bar.shown
        bar(10)
    assert bar.done == 1024 + MIN_BYTES + 10
