"""The repo-root end-to-end suite: the real services as their own processes, driven like a user would.

Fixtures:
- `stack` (function): every installed service, supervised as in `tusk up`, against the `nats_server` and
  `database_url` fixtures of `tusk_common.testing`; yields an `E2EStack` (public URL, a `tusk.Client`,
  `stack.tusk(...)` to run the `tusk` console script against it).
- `tusk_up` (function): a factory of real `tusk up` child processes (own NATS and Postgres) on a data dir
  outside pytest's tmp root; for tests that restart the whole stack.

A failing test prints the tail of every service log.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tusk
from tusk.stack.services import service_spec
from tusk.stack.testing import E2EStack, UpProcess, services_against
from tusk_common.embedded import NatsProcess

CORE_SERVICES = ("versioning", "ingest")


def _missing(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if (spec := service_spec(n)) is None or not spec.installed()]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(getattr(getattr(request.node, f"report_{w}", None), "failed", False) for w in ("setup", "call"))


@pytest.fixture(autouse=True)
def _own_stat_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's `tusk` (in process or a child) keeps its stat cache in its tmp dir, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("TUSK_CACHE_DIR", raising=False)


@pytest.fixture
def stack(request: pytest.FixtureRequest, nats_server: NatsProcess, database_url: str,
          tmp_path: Path) -> Iterator[E2EStack]:
    missing = _missing(CORE_SERVICES)
    if missing:
        pytest.skip(f"services not installed yet: {', '.join(missing)}")
    console_lines: list[str] = []
    logs = tmp_path / "stack" / "logs"
    with services_against(nats_server.url, database_url, tmp_path / "stack",
                          console=console_lines.append) as sup, \
            tusk.Client(sup.config.public_url, timeout=60) as client:
        e2e = E2EStack(sup.config.public_url, client, sup, logs)
        yield e2e
        if _failed(request):
            print("\n".join(["---- supervisor", *console_lines, e2e.log_tails()]))


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """A directory outside pytest's tmp root (which pytest re-chmods to 0700 when another session starts,
    locking Postgres' own system user out under root)."""
    path = Path(tempfile.mkdtemp(prefix="tusk-e2e-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tusk_up(request: pytest.FixtureRequest, scratch_dir: Path) -> Iterator[Callable[..., UpProcess]]:
    missing = _missing(CORE_SERVICES)
    if missing:
        pytest.skip(f"services not installed yet: {', '.join(missing)}")
    started: list[UpProcess] = []

    def start(data_dir: Path | None = None, port: int | None = None) -> UpProcess:
        up = UpProcess(data_dir or scratch_dir / "data", port)
        started.append(up)
        return up

    yield start
    for up in started:
        up.__exit__()
        if _failed(request):
            print(f"---- tusk up on {up.data_dir} (exit {up.proc.returncode})\n{up.output()}")
