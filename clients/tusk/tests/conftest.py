"""Fixtures: a fake Tusk server (tests/fake_server.py) on a free loopback port, and clients of it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cli_runner import Tusk
from fake_server import FakeServer, FakeTusk

import tusk


@pytest.fixture(autouse=True)
def _own_stat_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's `tusk` (in process or a child) keeps its stat cache in its tmp dir, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("TUSK_CACHE_DIR", raising=False)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeTusk]:
    with FakeServer(tmp_path / "blobs") as state:
        yield state


@pytest.fixture
def client(fake: FakeTusk) -> Iterator[tusk.Client]:
    with tusk.Client(fake.url, timeout=30) as c:
        yield c


@pytest.fixture
def run(fake: FakeTusk) -> Tusk:
    return Tusk(fake.url)
