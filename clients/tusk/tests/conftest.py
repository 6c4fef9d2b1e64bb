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
