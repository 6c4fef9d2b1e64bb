"""The supervisor: starts the stack in order, keeps every process running, stops it in reverse.

Start: NATS, then Postgres (each unless the environment names an external one), then every installed
service. One monitor thread then polls: a process that exited is restarted after a backoff (1s, 2s, 4s
... 30s; back to 1s once it had been healthy for 60s), health is the service's `/readyz` (TCP for
NATS/Postgres), and `stack.json` is rewritten on every change. Stop: SIGTERM to the services, a grace
period, SIGKILL; then Postgres (fast shutdown); then NATS.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tusk.stack.components import (
    Component,
    NatsComponent,
    PostgresComponent,
    ServiceComponent,
    tcp_ok,
)
from tusk.stack.config import StackConfig, redact_url, url_endpoint
from tusk.stack.services import SERVICES, ServiceSpec
from tusk.stack.state import write_state
from tusk_common.embedded import free_port

Console = Callable[[str], None]
TICK = 0.2
READY_PROBE_EVERY = 1.0


def console_line(message: str) -> None:
    """Default console: one timestamped line on stdout (a closed stdout must not stop the supervisor)."""
    try:
        print(f"tusk {time.strftime('%H:%M:%S')} {message}", flush=True)
    except (OSError, ValueError):
        pass


@dataclass(frozen=True)
class RestartPolicy:
    """Delay before the n-th consecutive restart; the count resets after `healthy_reset` s of health."""

    first: float = 1.0
    maximum: float = 30.0
    healthy_reset: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.maximum, self.first * 2 ** min(failures, 32))


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class Supervised:
    """The supervisor's book on one component."""

    component: Component
    running: bool = False
    ready: bool = False
    failures: int = 0
    restarts: int = 0
    healthy_since: float | None = None
    next_start: float | None = None
    last_probe: float = 0.0
    last_exit: str | None = None
    started_at: str | None = None


@dataclass(frozen=True)
class External:
    """A server the environment names: used, never started or stopped."""

    name: str
    url: str
    default_port: int

    def describe(self) -> dict[str, Any]:
        host, port = url_endpoint(self.url, self.default_port)
        return {"name": self.name, "kind": self.name, "managed": False, "pid": None,
                "url": redact_url(self.url), "host": host, "port": port}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Supervisor:
    """Runs one stack; `start()`, `wait_ready()`, then `stop()` from any thread (or a signal)."""

    config: StackConfig
    services: Sequence[ServiceSpec] = SERVICES
    console: Console = console_line
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    stop_grace: float | None = None  # default: the config's
    base_env: Mapping[str, str] | None = None
    write_state_file: bool = True

    def __post_init__(self) -> None:
        self.infra: list[Supervised] = []
        self.workers: list[Supervised] = []
        self.externals: list[External] = []
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self._force = threading.Event()
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._phase = "starting"
        self._started_at = _now_iso()
        self.nats_url = ""
        self.database_url = ""

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        """Start NATS and Postgres (blocking until they listen), then the monitor thread and services."""
        cfg = self.config
        for d in (cfg.data_dir, cfg.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        ov = cfg.overrides
        if ov.nats_url:
            self.nats_url = ov.nats_url
            self.externals.append(External("nats", ov.nats_url, 4222))
        else:
            nats = NatsComponent(cfg.nats_dir, cfg.log_file("nats"))
            self._start_infra(nats)
            self.nats_url = nats.url
        if self._stopping.is_set():
            return
        if ov.database_url:
            self.database_url = ov.database_url
            self.externals.append(External("postgres", ov.database_url, 5432))
        else:
            pg = PostgresComponent(cfg.postgres_dir)
            self._start_infra(pg)
            self.database_url = pg.url
        if ov.store_backend == "fs":
            cfg.objects_dir.mkdir(parents=True, exist_ok=True)
        if self._stopping.is_set():
            return
        for spec in self.services:
            if not spec.installed():
                self.console(f"{spec.name}: not installed (no module {spec.module}); skipped")
                continue
            self.workers.append(Supervised(self._service(spec)))
        if not any(s.public_http for s in self.services if s.installed()):
            self.console(f"nothing will answer on {cfg.public_url}: no public service (ingest) is installed")
        self._write_state()
        self._thread = threading.Thread(target=self._monitor, name="tusk-supervisor", daemon=True)
        self._thread.start()

    def _start_infra(self, component: NatsComponent | PostgresComponent) -> None:
        book = Supervised(component)
        self.infra.append(book)  # before start: stop() must see it even if start is interrupted
        component.start()
        book.running, book.ready, book.started_at = True, True, _now_iso()
        book.healthy_since = time.monotonic()
        self.console(f"{component.name} started (pid {component.pid}) at {redact_url(component.url)}")
        self._write_state()

    def service_env(self, spec: ServiceSpec, ops_port: int) -> dict[str, str]:
        env = dict(os.environ if self.base_env is None else self.base_env)
        env.update({
            "TUSK_NATS_URL": self.nats_url,
            "TUSK_DATABASE_URL": self.database_url,
            "TUSK_STORE_BACKEND": self.config.overrides.store_backend,
            "TUSK_OPS_ADDR": f"127.0.0.1:{ops_port}",
            "PYTHONUNBUFFERED": "1",
        })
        # Two malloc arenas, as in the image: glibc's default keeps freed transfer buffers (peak RSS).
        env.setdefault("MALLOC_ARENA_MAX", "2")
        if self.config.overrides.store_backend == "fs":
            env["TUSK_STORE_PATH"] = str(self.config.objects_dir)
        if spec.public_http:
            env["TUSK_HTTP_ADDR"] = self.config.http_addr
        else:
            env.pop("TUSK_HTTP_ADDR", None)
        if spec.name == "scheduler" and not env.get("TUSK_SECRET_KEY"):
            env["TUSK_SECRET_KEY"] = secret_key(self.config.secret_key_file)
        if spec.name == "worker":
            env.setdefault("TUSK_WORKER_SCRATCH_DIR", str(self.config.scratch_dir))
        if spec.public_http and not env.get("TUSK_S3_GATEWAY_ACCESS_KEY"):
            access, secret = gateway_keys(self.config.gateway_keys_file)
            env["TUSK_S3_GATEWAY_ACCESS_KEY"], env["TUSK_S3_GATEWAY_SECRET_KEY"] = access, secret
        return env

    def _service(self, spec: ServiceSpec) -> ServiceComponent:
        ops_port = free_port()
        return ServiceComponent(
            spec, self.service_env(spec, ops_port), ops_port, self.config.log_file(spec.name),
            public_url=self.config.public_url if spec.public_http else None,
        )

    # ------------------------------------------------------------------ run

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every component is ready (True), the stack stops, or `timeout` passes (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ready.is_set():
            if self._stopping.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return False
            self.ready.wait(TICK)
        return True

    def not_ready(self) -> list[str]:
        return [b.component.name for b in (*self.infra, *self.workers) if not b.ready]

    def _monitor(self) -> None:
        try:
            for book in self.workers:
                self._launch(book, first=True)
            self._write_state()
            while not self._stopping.is_set():
                if self._tick():
                    self._write_state()
                if self._phase == "ready":
                    self.ready.set()  # after stack.json says so: `status` never lags the ready line
                self._stopping.wait(TICK)
        finally:
            self._stop_services()

    def _tick(self) -> bool:
        changed = False
        for book in (*self.infra, *self.workers):
            if self._stopping.is_set():
                break
            changed |= self._check(book)
        if self._phase == "starting" and all(b.ready for b in (*self.infra, *self.workers)):
            self._phase = "ready"
            changed = True
        return changed

    def _check(self, book: Supervised) -> bool:
        comp, now = book.component, time.monotonic()
        if book.running:
            code = comp.poll()
            if code is not None:
                self._crashed(book, code, now)
                return True
            due = book.last_probe + (READY_PROBE_EVERY if book.ready else 0.0)
            if now < due:
                return False
            book.last_probe = now
            healthy = comp.healthy()
            if healthy == book.ready:
                return False
            book.ready = healthy
            if healthy:
                book.healthy_since = now
                if book.restarts:
                    self.console(f"{comp.name} is ready again (pid {comp.pid})")
            else:
                book.healthy_since = None
                self.console(f"{comp.name} (pid {comp.pid}) is not ready any more")
            return True
        if book.next_start is not None and now >= book.next_start:
            self._launch(book, first=False)
            return True
        return False

    def _crashed(self, book: Supervised, code: int, now: float) -> None:
        comp = book.component
        if book.healthy_since is not None and now - book.healthy_since >= self.policy.healthy_reset:
            book.failures = 0
        delay = self.policy.delay(book.failures)
        book.failures += 1
        book.running = book.ready = False
        book.healthy_since = None
        book.last_exit = describe_exit(code)
        book.next_start = now + delay
        self.console(f"{comp.name} (pid {comp.pid}) {book.last_exit}; restarting in {delay:g}s")

    def _launch(self, book: Supervised, *, first: bool) -> None:
        comp = book.component
        book.next_start = None
        try:
            comp.start()
        except Exception as exc:  # a failed start is a crash: back off and try again
            self.console(f"{comp.name} failed to start: {exc}")
            self._crashed(book, 1, time.monotonic())
            return
        book.running, book.started_at, book.last_probe = True, _now_iso(), 0.0
        if first:
            self.console(f"{comp.name} started (pid {comp.pid})")
        else:
            book.restarts += 1
            self.console(f"{comp.name} restarted (pid {comp.pid}, restart #{book.restarts})")

    # ------------------------------------------------------------------ stop

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def monitoring(self) -> bool:
        """False once the monitor thread ended (after a stop, or if it died)."""
        return self._thread is not None and self._thread.is_alive()

    def request_stop(self, *, force: bool = False) -> None:
        """Ask the stack to stop (safe from a signal handler); `force` skips the services' grace."""
        if self._stopping.is_set() and force:
            self._force.set()
        self._stopping.set()

    def stop(self) -> None:
        """Stop services (SIGTERM, grace, SIGKILL), then Postgres, then NATS; idempotent."""
        self._stopping.set()
        self._phase = "stopping"
        self._write_state()
        if self._thread is not None:
            self._thread.join()
        else:
            self._stop_services()
        for book in reversed(self.infra):
            comp = book.component
            assert isinstance(comp, NatsComponent | PostgresComponent)
            if comp.poll() is None and comp.pid is not None:
                self.console(f"stopping {comp.name} (pid {comp.pid})")
            comp.stop()
            book.running = book.ready = False
        self._phase = "stopped"
        self._write_state()

    def _stop_services(self) -> None:
        services = [b for b in self.workers if isinstance(b.component, ServiceComponent)]
        live = [b.component for b in services if b.component.poll() is None and b.component.pid]
        for svc in live:
            assert isinstance(svc, ServiceComponent)
            self.console(f"stopping {svc.name} (pid {svc.pid})")
            svc.terminate()
        grace = self.config.stop_grace if self.stop_grace is None else self.stop_grace
        deadline = time.monotonic() + grace
        while any(s.poll() is None for s in live) and time.monotonic() < deadline:
            if self._force.wait(0.05):
                break
        for svc in live:
            assert isinstance(svc, ServiceComponent)
            if svc.poll() is None:
                self.console(f"{svc.name} (pid {svc.pid}) did not stop in time; killing it")
                svc.kill()
        for book in services:
            book.running = book.ready = False
            book.next_start = None

    # ------------------------------------------------------------------ state

    def snapshot(self) -> dict[str, Any]:
        comps: list[dict[str, Any]] = [e.describe() for e in self.externals]
        for book in (*self.infra, *self.workers):
            comps.append({
                "name": book.component.name, **book.component.describe(),
                "running": book.running, "ready": book.ready, "restarts": book.restarts,
                "started_at": book.started_at, "last_exit": book.last_exit,
            })
        order = {"nats": 0, "postgres": 1}
        comps.sort(key=lambda c: order.get(c["name"], 2))
        ov = self.config.overrides
        store: dict[str, Any] = {"backend": ov.store_backend}
        if ov.store_backend == "fs":
            store["path"] = str(self.config.objects_dir)
        else:
            store["endpoint"] = ov.s3_endpoint
        return {
            "state": self._phase,
            "supervisor": {"pid": os.getpid(), "started_at": self._started_at},
            "data_dir": str(self.config.data_dir),
            "url": self.config.public_url,
            "http_addr": self.config.http_addr,
            "store": store,
            "components": comps,
            "updated_at": _now_iso(),
        }

    def _write_state(self) -> None:
        if not self.write_state_file:
            return
        with self._state_lock:
            write_state(self.config.state_file, self.snapshot())

    def healthy_components(self) -> dict[str, bool]:
        """Probe now (for tests and status of an in-process stack)."""
        out = {b.component.name: b.component.healthy() for b in (*self.infra, *self.workers)}
        for e in self.externals:
            host, port = url_endpoint(e.url, e.default_port)
            out[e.name] = tcp_ok(host, port)
        return out


def gateway_keys(path: Path) -> tuple[str, str]:
    """The S3 gateway's development keys: made once per data dir (owner-readable only, as the lines
    `access_key=...` and `secret_key=...`), so a configured `aws` profile keeps working across restarts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        access = "TUSK" + secrets.token_hex(8).upper()
        with os.fdopen(fd, "w") as f:
            f.write(f"access_key={access}\nsecret_key={secrets.token_urlsafe(30)}\n")
    fields = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    try:
        return fields["access_key"].strip(), fields["secret_key"].strip()
    except KeyError:
        raise ValueError(f"{path} must hold the lines access_key=... and secret_key=...") from None


def secret_key(path: Path) -> str:
    """The key that seals pipeline secrets at rest: made once per data dir (32 random bytes, base64,
    readable by its owner only) so secrets stay readable across restarts of the stack."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path.read_text().strip()
