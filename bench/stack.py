"""Tusk as a user runs it: `tusk up --detach` on `.bench/tusk-data`, the `tusk` CLI as a subprocess, and
`tusk.Client` where a scenario needs finer timings. Anything missing is `Unavailable`, never a crash."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.toolbox import Unavailable
from bench.workdir import Workdir, du, remove

_UP_TIMEOUT = 180
_CLI_TIMEOUT = 3600
# The S3 gateway's keys for this run. `tusk up` reads any TUSK_S3_* variable as settings of an S3
# object-store backend, so the store backend is named explicitly (fs, unless the caller chose one).
S3_ACCESS_KEY, S3_SECRET_KEY = "bench-access-key", "bench-secret-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tusk_binary() -> str:
    beside = Path(sys.executable).parent / "tusk"
    if beside.exists():
        return str(beside)
    found = shutil.which("tusk")
    if found is None:
        raise Unavailable("the `tusk` command is not installed (make install)")
    return found


class TuskStack:
    """One embedded stack for the whole run, started fresh (its data dir wiped) and stopped at the end."""

    def __init__(self, work: Workdir, log: Callable[[str], None]) -> None:
        self.work = work
        self.data_dir = work.tusk_data
        self.url = ""
        self._log = log
        self._tusk = ""
        self._started = False
        self.cli_startup = 0.0  # seconds a `tusk` command costs before doing anything (in every CLI timing)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._tusk = _tusk_binary()
        probe = subprocess.run([self._tusk, "up", "--help"], capture_output=True, text=True)
        if probe.returncode != 0 or "--detach" not in probe.stdout:
            raise Unavailable("stack not available: `tusk up --detach` is not implemented yet")
        self._down(quiet=True)  # a stack a crashed run left behind
        remove(self.data_dir)
        addr = f"127.0.0.1:{_free_port()}"
        self._log(f"starting the stack: tusk up --data-dir {self.data_dir} --http-addr {addr} --detach")
        env = {**os.environ, "TUSK_S3_GATEWAY_ACCESS_KEY": S3_ACCESS_KEY, "TUSK_S3_GATEWAY_SECRET_KEY": S3_SECRET_KEY,
               "TUSK_STORE_BACKEND": os.environ.get("TUSK_STORE_BACKEND") or "fs",
               # One slot per worker process: the pipeline scenarios count workers in processes.
               "TUSK_WORKER_CONCURRENCY": os.environ.get("TUSK_WORKER_CONCURRENCY") or "1"}
        res = subprocess.run(
            [self._tusk, "up", "--data-dir", str(self.data_dir), "--http-addr", addr, "--detach"],
            capture_output=True, text=True, timeout=_UP_TIMEOUT, env=env,
        )
        if res.returncode != 0:
            tail = " ".join((res.stderr or res.stdout).strip().splitlines()[-2:])
            raise Unavailable(f"stack not available: `tusk up` exited {res.returncode}: {tail[:300]}")
        self._started = True
        self.url = f"http://{addr}"
        self._wait_ready()
        self.cli_startup = min(self.cli("--version") for _ in range(3))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _UP_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with self.client() as c:
                    c.version()
                return
            except Exception as e:  # not up yet: any failure means "try again" until the deadline
                last = e
                time.sleep(0.2)
        raise Unavailable(f"stack not available: no answer on {self.url}: {last}")

    def stop(self) -> None:
        if self._started:
            self._down(quiet=False)
            self._started = False

    def _down(self, *, quiet: bool) -> None:
        res = subprocess.run(
            [self._tusk, "down", "--data-dir", str(self.data_dir)], capture_output=True, text=True, timeout=120
        )
        if res.returncode != 0 and not quiet:
            self._log(f"tusk down exited {res.returncode}: {(res.stderr or res.stdout).strip()[:300]}")

    # ------------------------------------------------------------------ driving it

    @property
    def env(self) -> dict[str, str]:
        # The CLI's stat cache lives in the data dir, wiped with it: every run starts with an empty one.
        return {**os.environ, "TUSK_URL": self.url, "NO_COLOR": "1",
                "TUSK_CACHE_DIR": str(self.data_dir / "client-cache")}

    def cli(self, *args: str) -> float:
        """Run `tusk ARGS` like a user; returns its wall time in seconds."""
        t0 = time.perf_counter()
        res = subprocess.run([self._tusk, *args], capture_output=True, text=True, env=self.env,
                             timeout=_CLI_TIMEOUT, stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - t0
        if res.returncode != 0:
            tail = " ".join((res.stderr or res.stdout).strip().splitlines()[-3:])
            raise RuntimeError(f"`tusk {' '.join(args[:3])}` exited {res.returncode}: {tail[:300]}")
        return elapsed

    # The user-level verbs the scenarios time: the CLI grammar lives here only.

    def create_repo(self, repo: str) -> float:
        return self.cli("create", "repo", repo)

    def put_file(self, repo: str, path: str, local: Path, branch: str = "master") -> float:
        return self.cli("put", "file", f"{repo}@{branch}:{path}", "-f", str(local))

    def put_tree(self, repo: str, dest: str, local_dir: Path, branch: str = "master") -> float:
        return self.cli("put", "file", "-r", f"{repo}@{branch}:{dest}", "-f", str(local_dir))

    def get_file(self, repo: str, ref: str, path: str, out: Path) -> float:
        return self.cli("get", "file", f"{repo}@{ref}:{path}", "-o", str(out))

    def client(self) -> Any:
        """A `tusk.Client` on this stack (imported here: the SDK may not be installed yet)."""
        try:
            import tusk
        except ImportError as e:
            raise Unavailable(f"the tusk SDK cannot be imported: {e}") from e
        return tusk.Client(self.url, timeout=600)

    # ------------------------------------------------------------------ what it uses

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    def storage(self) -> int:
        """Bytes the chunk store holds on disk, after flushing what the page cache still holds."""
        os.sync()
        return du(self.objects_dir)

    def settle(self, timeout: float = 120.0) -> float:
        """Wait until every durable consumer has caught up (`tusk_consumer_lag` 0 on every ops port that
        reports it): what a scenario's setup set going (lineage indexing a bulk load) is over before its
        timed part. Returns the seconds waited."""
        import urllib.request

        t0 = time.monotonic()
        doc = self._status_json()
        urls = [c["metrics_url"] for c in (doc or {}).get("components", []) if c.get("metrics_url")]
        while True:
            lag = 0.0
            for url in urls:
                try:
                    with urllib.request.urlopen(url, timeout=10) as resp:
                        text = resp.read().decode()
                except OSError:
                    continue
                lag += sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                           if line.startswith("tusk_consumer_lag{"))  # fmt: skip
            if lag == 0 or time.monotonic() - t0 > timeout:
                return time.monotonic() - t0
            time.sleep(0.2)

    def service_pid(self, name: str) -> int:
        """The pid of service `name`, from `stack.json` (else `tusk status --json`)."""
        for read in (self._state_file, self._status_json):
            doc = read()
            pid = _find_pid(doc, name) if doc is not None else None
            if pid:
                return pid
        raise Unavailable(f"no pid of {name} in stack.json or `tusk status --json`")

    def _state_file(self) -> Any:
        try:
            return json.loads((self.data_dir / "stack.json").read_text())
        except (OSError, ValueError):
            return None

    def _status_json(self) -> Any:
        res = subprocess.run([self._tusk, "status", "--json", "--data-dir", str(self.data_dir)],
                             capture_output=True, text=True, env=self.env, timeout=60)
        try:
            return json.loads(res.stdout) if res.returncode == 0 else None
        except ValueError:
            return None


def _find_pid(doc: Any, name: str) -> int | None:
    """The pid of `name` wherever the document keeps it: `{name: {pid}}`, `{name: pid}` or
    `[{"name": name, "pid": …}]`, at any depth."""
    for node in _walk(doc):
        if isinstance(node, dict):
            if node.get("name") == name and isinstance(node.get("pid"), int):
                return int(node["pid"])
            entry = node.get(name)
            if isinstance(entry, int) and not isinstance(entry, bool):
                return entry
            if isinstance(entry, dict) and isinstance(entry.get("pid"), int):
                return int(entry["pid"])
    return None


def _walk(doc: Any) -> Iterator[Any]:
    yield doc
    children = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else ()
    for child in children:
        yield from _walk(child)
