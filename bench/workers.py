"""Worker processes beside the stack's own, started the way a user scales out: `tusk serve worker` with
the stack's NATS, Postgres and chunk store (read from its `stack.json`), one ops port each.

The bench's stack runs its worker with `TUSK_WORKER_CONCURRENCY=1` (bench/stack.py), and these get the
same, so "N workers" means N processes of one slot each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable

from bench.stack import TuskStack, _free_port, _tusk_binary
from bench.toolbox import Unavailable

_READY_TIMEOUT = 60.0
_STOP_TIMEOUT = 20.0


def _stack_env(stack: TuskStack) -> dict[str, str]:
    try:
        doc = json.loads((stack.data_dir / "stack.json").read_text())
    except (OSError, ValueError) as e:
        raise Unavailable(f"cannot read the stack's stack.json: {e}") from e
    urls = {c.get("name"): c.get("url") for c in doc.get("components", [])}
    if not urls.get("nats") or not urls.get("postgres"):
        raise Unavailable("stack.json names no NATS or Postgres url")
    store = doc.get("store") or {}
    env = {"TUSK_NATS_URL": str(urls["nats"]), "TUSK_DATABASE_URL": str(urls["postgres"]),
           "TUSK_STORE_BACKEND": str(store.get("backend") or "fs"),
           "TUSK_WORKER_SCRATCH_DIR": str(stack.data_dir / "scratch")}
    if store.get("path"):
        env["TUSK_STORE_PATH"] = str(store["path"])
    return env


class ExtraWorkers:
    """`with ExtraWorkers(stack, n, log) as w:` n more worker processes, ready, stopped on exit."""

    def __init__(self, stack: TuskStack, n: int, log: Callable[[str], None], *, slots: int = 1) -> None:
        self.stack = stack
        self.n = n
        self.slots = slots
        self.log = log
        self.procs: list[tuple[subprocess.Popen[bytes], int]] = []

    def __enter__(self) -> ExtraWorkers:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.n <= 0:
            return
        base = {**os.environ, **_stack_env(self.stack), "TUSK_WORKER_CONCURRENCY": str(self.slots),
                "PYTHONUNBUFFERED": "1"}
        logs = self.stack.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            port = _free_port()
            env = {**base, "TUSK_OPS_ADDR": f"127.0.0.1:{port}"}
            with open(logs / f"bench-worker-{i}.log", "ab") as out:
                proc = subprocess.Popen([_tusk_binary(), "serve", "worker"], env=env, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            self.procs.append((proc, port))
        self.log(f"started {self.n} more worker(s) ({self.slots} slot(s) each): "
                 f"pids {', '.join(str(p.pid) for p, _ in self.procs)}")
        deadline = time.monotonic() + _READY_TIMEOUT
        for proc, port in self.procs:
            while not _ready(port):
                if proc.poll() is not None:
                    raise RuntimeError(f"worker pid {proc.pid} exited {proc.returncode} (see {logs})")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker pid {proc.pid} not ready in {_READY_TIMEOUT:g} s")
                time.sleep(0.2)

    def stop(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def _ready(port: int) -> bool:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
