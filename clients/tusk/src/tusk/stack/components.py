"""The processes of the stack: nats-server and Postgres (from `tusk_common.embedded`) and the services.

Each one starts, reports its exit code, answers a health probe and stops; the supervisor decides when.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from tusk.stack.config import DATABASE_NAME
from tusk.stack.services import ServiceSpec
from tusk_common.embedded import NatsProcess, PostgresProcess

PROBE_TIMEOUT = 1.0


def tcp_ok(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url_host: str, port: int, path: str = "/readyz", timeout: float = PROBE_TIMEOUT) -> bool:
    """GET `path` answers 200 (plain http.client: no proxy from the environment, no redirects)."""
    conn = http.client.HTTPConnection(url_host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class Component(Protocol):
    """What the supervisor runs: started once, restarted when `poll()` reports an exit."""

    name: str
    kind: str

    @property
    def pid(self) -> int | None: ...

    def start(self) -> None: ...

    def poll(self) -> int | None: ...

    def healthy(self) -> bool: ...

    def describe(self) -> dict[str, Any]: ...


class NatsComponent:
    """nats-server with JetStream, its store in DATA/nats, its log in DATA/logs/nats.log."""

    kind = "nats"

    def __init__(self, store_dir: Path, log_file: Path) -> None:
        self.name = "nats"
        self.server = NatsProcess(store_dir, log_file=log_file)

    @property
    def pid(self) -> int | None:
        return self.server.proc.pid if self.server.proc else None

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.start(timeout=30.0)  # the port chosen the first time is kept on restarts

    def poll(self) -> int | None:
        return self.server.proc.poll() if self.server.proc else None

    def healthy(self) -> bool:
        return tcp_ok(self.server.host, self.server.port)

    def stop(self) -> None:
        self.server.stop()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "managed": True, "pid": self.pid, "url": self.url,
            "host": self.server.host, "port": self.server.port,
            "store": str(self.server.store_dir), "log": str(self.server.log_file),
        }


class PostgresComponent:
    """A Postgres cluster in DATA/postgres (initdb on first start), holding the `tusk` database."""

    kind = "postgres"

    def __init__(self, data_dir: Path) -> None:
        self.name = "postgres"
        self.server = PostgresProcess(data_dir)

    @property
    def pid(self) -> int | None:
        return self.server.proc.pid if self.server.proc else None

    @property
    def url(self) -> str:
        return self.server.url(DATABASE_NAME)

    def start(self) -> None:
        try:
            self.server.start(timeout=60.0)
        except subprocess.CalledProcessError as exc:  # initdb: its stderr says why
            detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"{Path(exc.cmd[0]).name} failed: {' / '.join(detail[-3:]) or exc}") from exc
        # Its own thread: asyncio.run must not meet a loop the caller may be running.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, self._ensure_database()).result()

    async def _ensure_database(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.server.url("postgres"), timeout=30)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME):
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            await conn.close()

    def poll(self) -> int | None:
        return self.server.proc.poll() if self.server.proc else None

    def healthy(self) -> bool:
        return tcp_ok(self.server.host, self.server.port)

    def stop(self) -> None:
        self.server.stop()  # SIGINT: Postgres' fast shutdown

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "managed": True, "pid": self.pid, "url": self.url,
            "host": self.server.host, "port": self.server.port,
            "data": str(self.server.data_dir), "log": str(self.server.data_dir / "server.log"),
        }


# Run between fork and the service's interpreter: the service gets SIGTERM when the supervisor dies
# (even by SIGKILL), so a killed `tusk up` leaves no service behind. The signal follows the *thread*
# that forked, which is why the supervisor's one monitor thread spawns and stops every service.
_ORPHAN_GUARD = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGTERM)\n"  # PR_SET_PDEATHSIG
    "if os.getppid() != int(sys.argv[1]): sys.exit(70)\n"
    "os.execv(sys.executable, [sys.executable, '-m', sys.argv[2]])\n"
)


class ServiceComponent:
    """One Tusk service as `python -m <module>`: env from the stack, output appended to its log file."""

    kind = "service"

    def __init__(self, spec: ServiceSpec, env: Mapping[str, str], ops_port: int, log_file: Path,
                 public_url: str | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.env = dict(env)
        self.ops_port = ops_port
        self.log_file = log_file
        self.public_url = public_url
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}"

    def argv(self) -> list[str]:
        if sys.platform == "linux":
            return [sys.executable, "-c", _ORPHAN_GUARD, str(os.getpid()), self.spec.module]
        return [sys.executable, "-m", self.spec.module]

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            log.write(f"--- tusk up: starting {self.name} at {stamp} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(), env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,  # Ctrl-C reaches the supervisor only
            )

    def poll(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def healthy(self) -> bool:
        return self.poll() is None and http_ok("127.0.0.1", self.ops_port)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "module": self.spec.module, "pid": self.pid, "url": self.public_url,
            "ops_url": self.ops_url, "metrics_url": f"{self.ops_url}/metrics", "log": str(self.log_file),
        }
