"""The stack's supervisor in-process, with tiny stand-in services (no NATS/Postgres needed): restarts
with backoff, the orderly stop, skipped services; plus the pure parts (policy, addresses, redaction)."""

from __future__ import annotations

import os
import signal
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tusk.stack.config import Overrides, StackConfig, parse_addr, redact_url
from tusk.stack.services import SERVICES, ServiceSpec, service_spec
from tusk.stack.state import DataDirLock, LockHeld, pid_alive, read_state, running_pid
from tusk.stack.supervisor import RestartPolicy, Supervisor

# A stand-in service: serves /readyz on TUSK_OPS_ADDR like a real one; its behaviour set by its name.
STANDIN = textwrap.dedent('''
    import os, signal, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    MODE = __package__.split("_", 1)[1]
    if MODE == "crash":
        sys.exit(3)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    host, port = os.environ["TUSK_OPS_ADDR"].rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    if MODE == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("standin", MODE, "serving on", port, "http", os.environ.get("TUSK_HTTP_ADDR"), flush=True)
    server.serve_forever()
''')


@pytest.fixture
def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "standins"
    for mode in ("ok", "crash", "stubborn"):
        pkg = root / f"standin_{mode}"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "__main__.py").write_text(STANDIN)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    return root


def external_config(tmp_path: Path) -> StackConfig:
    """Infra named by the environment (never contacted by the stand-ins): only services run."""
    return StackConfig(tmp_path / "data", "127.0.0.1", 0,
                       Overrides(nats_url="nats://127.0.0.1:1", database_url="postgresql://u:secret@127.0.0.1:1/x"))


class Console:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        with self._lock:
            self.lines.append(message)

    def wait_for(self, pred: Callable[[str], bool], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    if pred(line):
                        return line
            time.sleep(0.05)
        raise AssertionError(f"no console line matched; got {self.lines}")


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def supervise(tmp_path: Path, standins: Path, console: Console) -> Iterator[Callable[..., Supervisor]]:
    started: list[Supervisor] = []

    def make(*specs: ServiceSpec, **kwargs: object) -> Supervisor:
        sup = Supervisor(external_config(tmp_path), services=specs, console=console, **kwargs)  # type: ignore[arg-type]
        started.append(sup)
        sup.start()
        return sup

    yield make
    for sup in started:
        sup.stop()


def service_pid(sup: Supervisor, name: str) -> int | None:
    return next(b.component.pid for b in sup.workers if b.component.name == name)


def wait_until(pred: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_restart_policy_doubles_from_one_second_up_to_thirty() -> None:
    policy = RestartPolicy()
    assert [policy.delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert policy.delay(1000) == 30
    assert policy.healthy_reset == 60


def test_addresses_parse_and_urls_lose_their_passwords() -> None:
    assert parse_addr("127.0.0.1:7080") == ("127.0.0.1", 7080)
    assert parse_addr(":9000") == ("127.0.0.1", 9000)
    with pytest.raises(ValueError):
        parse_addr("localhost")
    assert redact_url("postgresql://tusk:hunter2@db:5432/tusk") == "postgresql://tusk:***@db:5432/tusk"
    assert redact_url("nats://a:b@n1:4222,nats://n2:4222") == "nats://a:***@n1:4222,nats://n2:4222"
    assert redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_environment_names_the_servers_the_stack_uses_instead_of_its_own() -> None:
    assert Overrides.from_env({}) == Overrides()
    ov = Overrides.from_env({"TUSK_NATS_URL": "nats://n:1", "TUSK_DATABASE_URL": "postgresql://d/x",
                             "TUSK_S3_ENDPOINT": "minio:9000"})
    assert (ov.nats_url, ov.database_url, ov.store_backend, ov.s3_endpoint) == (
        "nats://n:1", "postgresql://d/x", "s3", "minio:9000")
    assert Overrides.from_env({"TUSK_STORE_BACKEND": "s3"}).store_backend == "s3"
    # The gateway's own keys configure the ingest service, not an S3 object store.
    gateway = {"TUSK_S3_GATEWAY_ACCESS_KEY": "AK", "TUSK_S3_GATEWAY_SECRET_KEY": "SK"}
    assert Overrides.from_env(gateway).store_backend == "fs"


def test_service_table_has_one_row_per_service_with_one_public_port() -> None:
    names = [s.name for s in SERVICES]
    assert len(names) == len(set(names))
    assert names[:2] == ["versioning", "ingest"]
    assert [s.name for s in SERVICES if s.public_http] == ["ingest"]
    assert service_spec("ingest") is not None and service_spec("nope") is None
    assert not ServiceSpec("ghost", "tusk_no_such_module").installed()


def test_data_dir_lock_refuses_a_second_owner_and_is_free_after_release(tmp_path: Path) -> None:
    lock_file = tmp_path / "up.lock"
    first = DataDirLock(lock_file)
    first.acquire()
    assert running_pid(lock_file) == os.getpid()
    # flock conflicts between two open files even in one process: this stands in for a second `tusk up`.
    with pytest.raises(LockHeld) as held:
        DataDirLock(lock_file).acquire()
    assert held.value.pid == os.getpid()
    first.release()
    second = DataDirLock(lock_file)
    second.acquire()
    second.release()
    assert running_pid(lock_file) is None


def test_supervisor_starts_services_with_the_stack_env_and_reports_ready(
    supervise: Callable[..., Supervisor], tmp_path: Path
) -> None:
    sup = supervise(ServiceSpec("alpha", "standin_ok"), ServiceSpec("edge", "standin_ok", public_http=True))
    assert sup.wait_ready(20)
    comps = sup.workers
    env = comps[1].component.env  # type: ignore[attr-defined]
    assert env["TUSK_NATS_URL"] == "nats://127.0.0.1:1"
    assert env["TUSK_STORE_BACKEND"] == "fs" and env["TUSK_STORE_PATH"] == str(tmp_path / "data" / "objects")
    assert env["TUSK_HTTP_ADDR"] == "127.0.0.1:0"
    assert env["MALLOC_ARENA_MAX"] == "2"
    assert "TUSK_HTTP_ADDR" not in comps[0].component.env  # type: ignore[attr-defined]
    keys_file = tmp_path / "data" / "s3-gateway.keys"
    assert keys_file.stat().st_mode & 0o777 == 0o600
    keys = dict(line.split("=", 1) for line in keys_file.read_text().splitlines())
    assert (env["TUSK_S3_GATEWAY_ACCESS_KEY"], env["TUSK_S3_GATEWAY_SECRET_KEY"]) == (
        keys["access_key"], keys["secret_key"])
    assert len(keys["secret_key"]) >= 40 and keys["access_key"].startswith("TUSK")
    assert "TUSK_S3_GATEWAY_ACCESS_KEY" not in comps[0].component.env  # type: ignore[attr-defined]
    assert env["TUSK_OPS_ADDR"] != comps[0].component.env["TUSK_OPS_ADDR"]  # type: ignore[attr-defined]
    state = read_state(tmp_path / "data" / "stack.json")
    assert state is not None and state["state"] == "ready"
    by_name = {c["name"]: c for c in state["components"]}
    assert by_name["postgres"] == {**by_name["postgres"], "managed": False, "pid": None,
                                   "url": "postgresql://u:***@127.0.0.1:1/x"}
    assert "secret" not in (tmp_path / "data" / "stack.json").read_text()
    assert by_name["alpha"]["pid"] == service_pid(sup, "alpha")
    assert "standin ok serving" in (tmp_path / "data" / "logs" / "alpha.log").read_text()


def test_a_killed_service_is_restarted_with_a_new_pid_and_the_crash_is_logged(
    supervise: Callable[..., Supervisor], console: Console
) -> None:
    sup = supervise(ServiceSpec("alpha", "standin_ok"))
    assert sup.wait_ready(20)
    old = service_pid(sup, "alpha")
    assert old is not None
    os.kill(old, signal.SIGKILL)
    console.wait_for(lambda line: f"alpha (pid {old}) killed by SIGKILL; restarting in 1s" in line)
    line = console.wait_for(lambda line: "alpha restarted (pid" in line)
    new = service_pid(sup, "alpha")
    assert new != old and f"pid {new}" in line
    console.wait_for(lambda line: f"alpha is ready again (pid {new})" in line)
    assert sup.workers[0].restarts == 1


def test_a_crash_looping_service_backs_off_doubling_and_others_keep_running(
    supervise: Callable[..., Supervisor], console: Console
) -> None:
    sup = supervise(ServiceSpec("good", "standin_ok"), ServiceSpec("bad", "standin_crash"),
                    policy=RestartPolicy(first=0.2, maximum=0.8))
    delays = []
    deadline = time.monotonic() + 20
    while len(delays) < 4 and time.monotonic() < deadline:
        delays = [ln.rsplit(" ", 1)[-1] for ln in list(console.lines) if "bad (pid" in ln and "restarting" in ln]
        time.sleep(0.05)
    assert delays[:4] == ["0.2s", "0.4s", "0.8s", "0.8s"]
    assert "exited with code 3" in console.wait_for(lambda line: "bad (pid" in line)
    assert not sup.ready.is_set()
    good = sup.workers[0]
    assert good.ready and good.restarts == 0


def test_backoff_resets_after_a_service_ran_healthy_long_enough(
    supervise: Callable[..., Supervisor], console: Console
) -> None:
    sup = supervise(ServiceSpec("alpha", "standin_ok"), policy=RestartPolicy(first=0.2, healthy_reset=0.5))
    book = sup.workers[0]
    for restarts in (1, 2):
        wait_until(lambda: book.ready and book.restarts == restarts - 1)  # noqa: B023
        time.sleep(0.8)  # healthy for longer than healthy_reset
        os.kill(service_pid(sup, "alpha"), signal.SIGKILL)  # type: ignore[arg-type]
        wait_until(lambda: book.restarts == restarts)  # noqa: B023
    delays = [ln.rsplit(" ", 1)[-1] for ln in console.lines if "restarting in" in ln]
    assert delays == ["0.2s", "0.2s"]


def test_stop_terminates_services_and_kills_one_that_ignores_sigterm(
    supervise: Callable[..., Supervisor], console: Console, tmp_path: Path
) -> None:
    sup = supervise(ServiceSpec("polite", "standin_ok"), ServiceSpec("stubborn", "standin_stubborn"),
                    stop_grace=1.0)
    assert sup.wait_ready(20)
    pids = [service_pid(sup, "polite"), service_pid(sup, "stubborn")]
    started = time.monotonic()
    sup.stop()
    assert time.monotonic() - started < 10
    assert not any(pid_alive(p) for p in pids)
    assert any("stubborn" in ln and "killing it" in ln for ln in console.lines)
    assert not any("polite" in ln and "killing it" in ln for ln in console.lines)
    state = read_state(tmp_path / "data" / "stack.json")
    assert state is not None and state["state"] == "stopped"


def test_a_service_that_is_not_installed_is_skipped_with_a_note(
    supervise: Callable[..., Supervisor], console: Console
) -> None:
    sup = supervise(ServiceSpec("alpha", "standin_ok"), ServiceSpec("later", "tusk_not_there_yet"))
    assert sup.wait_ready(20)
    assert [b.component.name for b in sup.workers] == ["alpha"]
    console.wait_for(lambda line: line == "later: not installed (no module tusk_not_there_yet); skipped")
