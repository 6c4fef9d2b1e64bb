"""Test helpers built on the stack: a `tusk up` child process, and the services run against given servers.

Used by `clients/tusk/tests/test_stack*.py` and the repo-root end-to-end suite (`tests/conftest.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tusk.stack.config import Overrides, StackConfig
from tusk.stack.services import SERVICES, ServiceSpec
from tusk.stack.supervisor import Supervisor
from tusk_common.embedded import free_port

if TYPE_CHECKING:
    import tusk

TUSK = str(Path(sys.executable).parent / "tusk")
LOG_TAIL_LINES = 40


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without TUSK_* (a developer's exported TUSK_NATS_URL must not leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUSK_")}
    env.update(extra)
    return env


@dataclass
class TuskResult:
    """What one `tusk ...` run gave: exit code, raw stdout bytes, stderr text."""

    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()

    def json(self) -> Any:
        return json.loads(self.out)


def run_tusk(url: str, *args: str, input: bytes | None = None, ok: bool = True,
             cwd: Path | None = None, timeout: float = 120.0) -> TuskResult:
    """The `tusk` console script as a subprocess, pointed at `url` through TUSK_URL."""
    proc = subprocess.run([TUSK, *args], input=input, capture_output=True, timeout=timeout, cwd=cwd,
                          env=clean_env(TUSK_URL=url, COLUMNS="200"))
    res = TuskResult(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))
    if ok:
        assert res.code == 0, f"tusk {' '.join(args)} -> exit {res.code}\nstdout: {res.out!r}\nstderr: {res.err}"
    return res


@dataclass
class E2EStack:
    """What the end-to-end `stack` fixture yields."""

    url: str
    client: tusk.Client
    supervisor: Supervisor
    logs_dir: Path

    def tusk(self, *args: str, **kwargs: Any) -> TuskResult:
        """`tusk ARGS` against this stack; asserts exit 0 unless `ok=False`."""
        return run_tusk(self.url, *args, **kwargs)

    def log_tails(self) -> str:
        """The last lines of every service log (printed when an end-to-end test fails)."""
        parts = []
        for log in sorted(self.logs_dir.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            parts.append(f"---- {log.name} (last {len(lines)} lines)\n" + "\n".join(lines))
        return "\n".join(parts)


class UpProcess:
    """A foreground `tusk up` child, its console collected line by line."""

    def __init__(self, data_dir: Path, port: int | None = None, *, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [TUSK, "up", "--data-dir", str(data_dir), "--http-addr", f"127.0.0.1:{self.port}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env if env is not None else clean_env(),
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_line(self, pred: Callable[[str], bool], timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if pred(line):
                    return line
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no matching line from tusk up (exit {self.proc.poll()}):\n{self.output()}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        self.wait_line(lambda line: line == f"Tusk is ready at {self.url}", timeout)

    def stop(self, timeout: float = 90.0) -> int:
        """SIGTERM, as Ctrl-C or `tusk down` would; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._reader.join(5)
        return code

    def __enter__(self) -> UpProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop(60)


@contextlib.contextmanager
def services_against(
    nats_url: str, database_url: str, data_dir: Path, *, http_port: int | None = None,
    services: Sequence[ServiceSpec] = SERVICES, console: Callable[[str], None] | None = None,
    ready_timeout: float = 90.0,
) -> Iterator[Supervisor]:
    """Every installed service as its own process against the given NATS and Postgres, supervised."""
    config = StackConfig(data_dir, "127.0.0.1", http_port or free_port(),
                         Overrides(nats_url=nats_url, database_url=database_url))
    sup = Supervisor(config, services=services, console=console or (lambda _line: None),
                     base_env=clean_env(), stop_grace=10.0)
    try:
        sup.start()
        if not sup.wait_ready(ready_timeout):
            raise RuntimeError(f"services not ready after {ready_timeout}s: {', '.join(sup.not_ready())}; "
                               f"logs in {config.logs_dir}")
        yield sup
    finally:
        sup.stop()
