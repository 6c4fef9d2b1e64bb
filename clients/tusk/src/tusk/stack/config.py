"""Where the stack keeps things and which servers it uses: the data dir layout and the env overrides.

    DATA/
      nats/          JetStream store (and nats.conf)
      postgres/      the Postgres cluster (initdb on first start; its own server.log)
      objects/       the `fs` chunk store
      logs/          <service>.log, nats.log, supervisor.log (--detach)
      stack.json     pids, ports and urls of every component (`tusk status` reads it)
      up.lock        pid of the `tusk up` that owns this data dir (held with flock)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_HTTP_ADDR = "127.0.0.1:7080"
DATABASE_NAME = "tusk"


def parse_addr(addr: str) -> tuple[str, int]:
    """`host:port` (host defaults to 127.0.0.1) -> `(host, port)`; raises ValueError."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{addr!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on (or holds) `host:port` so that a server could not bind it."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers do not count
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***` (each of a comma-separated list)."""
    parts = []
    for one in url.split(","):
        split = urlsplit(one.strip())
        if split.password is None:
            parts.append(one.strip())
            continue
        netloc = f"{split.username or ''}:***@{split.hostname or ''}"
        if split.port is not None:
            netloc += f":{split.port}"
        parts.append(urlunsplit(split._replace(netloc=netloc)))
    return ",".join(parts)


def url_endpoint(url: str, default_port: int) -> tuple[str, int]:
    """host and port of the first server of a (comma-separated) URL."""
    split = urlsplit(url.split(",")[0].strip())
    return split.hostname or "127.0.0.1", split.port or default_port


def stop_grace_for(env: Mapping[str, str]) -> float:
    """Longer than the services' own drain (`TUSK_SHUTDOWN_GRACE`, 10 s by default), so SIGKILL is a last resort."""
    try:
        grace = float(env.get("TUSK_SHUTDOWN_GRACE") or 10.0)
    except ValueError:
        grace = 10.0
    return max(15.0, grace + 5.0)


@dataclass(frozen=True)
class Overrides:
    """Servers the environment names (`TUSK_NATS_URL`, `TUSK_DATABASE_URL`, `TUSK_S3_*`): used, not started."""

    nats_url: str | None = None
    database_url: str | None = None
    store_backend: str = "fs"
    store_path: str | None = None
    s3_endpoint: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Overrides:
        # TUSK_S3_GATEWAY_* configure the ingest service's S3 gateway, not an object store.
        s3_set = any(
            k.startswith("TUSK_S3_") and not k.startswith("TUSK_S3_GATEWAY_") and v for k, v in env.items()
        )
        backend = env.get("TUSK_STORE_BACKEND") or ("s3" if s3_set else "fs")
        return cls(
            nats_url=env.get("TUSK_NATS_URL") or None,
            database_url=env.get("TUSK_DATABASE_URL") or None,
            store_backend=backend,
            store_path=env.get("TUSK_STORE_PATH") or None,
            s3_endpoint=env.get("TUSK_S3_ENDPOINT") or None,
        )


@dataclass(frozen=True)
class StackConfig:
    """Everything `tusk up` needs to know before it starts anything."""

    data_dir: Path
    http_host: str = "127.0.0.1"
    http_port: int = 7080
    overrides: Overrides = field(default_factory=Overrides)
    stop_grace: float = 15.0  # seconds the services get to drain before SIGKILL

    @classmethod
    def create(cls, data_dir: str | Path, http_addr: str = DEFAULT_HTTP_ADDR,
               env: Mapping[str, str] = os.environ) -> StackConfig:
        host, port = parse_addr(http_addr)
        return cls(Path(data_dir).expanduser().resolve(), host, port, Overrides.from_env(env),
                   stop_grace=stop_grace_for(env))

    @property
    def http_addr(self) -> str:
        return f"{self.http_host}:{self.http_port}"

    @property
    def public_url(self) -> str:
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def nats_dir(self) -> Path:
        return self.data_dir / "nats"

    @property
    def postgres_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def objects_dir(self) -> Path:
        return Path(self.overrides.store_path) if self.overrides.store_path else self.data_dir / "objects"

    @property
    def scratch_dir(self) -> Path:
        return self.data_dir / "scratch"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def gateway_keys_file(self) -> Path:
        return self.data_dir / "s3-gateway.keys"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "stack.json"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "up.lock"

    def log_file(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"
