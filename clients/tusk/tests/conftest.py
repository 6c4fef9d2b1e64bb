"""Fixtures: a fake Tusk server (tests/fake_server.py) on a free loopback port, and clients of it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))

from fake_server import FakeServer, FakeTusk

import tusk
from tusk.cli.main import cli


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeTusk]:
    with FakeServer(tmp_path / "blobs") as state:
        yield state


@pytest.fixture
def client(fake: FakeTusk) -> Iterator[tusk.Client]:
    with tusk.Client(fake.url, timeout=30) as c:
        yield c


class Tusk:
    """Runs `tusk ...` in-process against the fake server, like a user at a shell."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: bytes | str | None = None, ok: bool = True) -> Result:
        result = self.runner.invoke(cli, list(args), input=input, env={"TUSK_URL": self.url},
                                    catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result


@pytest.fixture
def run(fake: FakeTusk) -> Tusk:
    return Tusk(fake.url)
