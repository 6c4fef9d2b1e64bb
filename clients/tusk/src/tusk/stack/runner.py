"""`tusk up` in the foreground or detached, and `tusk down`."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from tusk.stack.config import StackConfig, port_in_use
from tusk.stack.state import (
    DataDirLock,
    LockHeld,
    pid_alive,
    process_cmdline,
    read_state,
    running_pid,
)
from tusk.stack.supervisor import Console, Supervisor, console_line
from tusk_common.embedded import free_port

READY_NOTE_AFTER = 60.0


class StackRefused(Exception):
    """The stack command will not act (port taken, data dir owned, ...): the message says why and what to do."""


def ready_line(config: StackConfig) -> str:
    return f"Tusk is ready at {config.public_url}"


def gateway_line(config: StackConfig, env: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """Where the S3 gateway is and which keys it takes (the secret itself stays in its file)."""
    if env.get("TUSK_S3_GATEWAY_ACCESS_KEY"):
        return f"S3 gateway at {config.public_url} (keys from TUSK_S3_GATEWAY_ACCESS_KEY/SECRET_KEY)"
    return f"S3 gateway at {config.public_url} (access and secret key in {config.gateway_keys_file})"


def resolve_port(config: StackConfig) -> StackConfig:
    """`--http-addr HOST:0` picks a free port once, so a detached child and its parent agree on it."""
    if config.http_port:
        return config
    return dataclasses.replace(config, http_port=free_port(config.http_host))


def check_can_start(config: StackConfig) -> None:
    pid = running_pid(config.lock_file)
    if pid is not None:
        raise StackRefused(
            f"another `tusk up` (pid {pid}) already runs on {config.data_dir}; "
            f"see `tusk status --data-dir {config.data_dir}` or stop it with `tusk down --data-dir {config.data_dir}`"
        )
    if port_in_use(config.http_host, config.http_port):
        raise StackRefused(
            f"{config.http_addr} is already in use by another program; "
            "free it or choose another address with --http-addr HOST:PORT"
        )


def up_foreground(config: StackConfig, *, console: Console = console_line) -> int:
    """Run the stack until SIGINT/SIGTERM; 0 after a clean stop. Raises StackRefused before starting."""
    config = resolve_port(config)
    check_can_start(config)
    lock = DataDirLock(config.lock_file)
    try:
        lock.acquire()
    except LockHeld as held:
        raise StackRefused(f"another `tusk up` (pid {held.pid}) already runs on {config.data_dir}") from None
    sup = Supervisor(config, console=console)
    previous = _on_stop_signals(sup, console)
    try:
        stop_leftovers(config, console)
        sup.start()
        waited = 0.0
        while not sup.stopping:
            if sup.wait_ready(READY_NOTE_AFTER):
                print(ready_line(config), flush=True)
                print(gateway_line(config), flush=True)
                break
            waited += READY_NOTE_AFTER
            if not sup.stopping:
                console(f"still waiting for {', '.join(sup.not_ready())} after {waited:g}s; "
                        f"logs are in {config.logs_dir}")
        while not sup.stopping:
            if not sup.monitoring:
                raise RuntimeError("the supervisor's monitor thread died; stopping everything")
            time.sleep(0.2)
    except Exception as exc:
        console(f"failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        sup.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.release()
    console("stopped")
    return 0


def _on_stop_signals(sup: Supervisor, console: Console) -> dict[signal.Signals, Any]:
    """First SIGINT/SIGTERM: orderly stop. A second one: do not wait for the services' grace period."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if sup.stopping:
            console("stopping now, without waiting for the services to drain")
            sup.request_stop(force=True)
        else:
            console(f"{signal.Signals(signum).name}: stopping the stack (again to skip the grace period)")
            sup.request_stop()

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)
    return previous


def up_detached(config: StackConfig, *, timeout: float = 300.0) -> int:
    """Start `tusk up` in the background (own session, output to logs/supervisor.log); 0 once ready."""
    config = resolve_port(config)
    check_can_start(config)
    config.logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = config.log_file("supervisor")
    argv = [sys.executable, "-m", "tusk.stack", "up",
            "--data-dir", str(config.data_dir), "--http-addr", config.http_addr]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=config.data_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            print(f"tusk up: the stack did not start (exit code {code}); from {log_path}:\n{tail}",
                  file=sys.stderr)
            return 1
        state = read_state(config.state_file) or {}
        if state.get("state") == "ready" and state.get("supervisor", {}).get("pid") == proc.pid:
            print(ready_line(config), flush=True)
            print(gateway_line(config), flush=True)
            print(f"(running in the background as pid {proc.pid}; logs in {config.logs_dir}; "
                  f"stop it with `tusk down --data-dir {config.data_dir}`)", flush=True)
            return 0
        time.sleep(0.2)
    print(f"tusk up: the stack (pid {proc.pid}) is not ready after {timeout:g}s; it keeps trying. "
          f"See {log_path}, `tusk status` or `tusk down`.", file=sys.stderr)
    return 1


def down(data_dir: Path, *, timeout: float = 60.0, console: Console = console_line) -> int:
    """Stop the `tusk up` running on `data_dir` (detached or not); 0 when nothing runs any more."""
    config = StackConfig(data_dir)
    pid = running_pid(config.lock_file)
    if pid is None:
        if not stop_leftovers(config, console):
            console(f"no stack is running on {config.data_dir}")
        return 0
    console(f"stopping the stack on {config.data_dir} (pid {pid})")
    try:
        os.kill(pid, signal.SIGTERM)
    except PermissionError:
        raise StackRefused(f"not allowed to stop the stack on {config.data_dir}: pid {pid} belongs to "
                        "another user") from None
    if not _wait_gone(pid, timeout):
        console(f"the stack (pid {pid}) did not stop within {timeout:g}s; killing it")
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 10.0)
        stop_leftovers(config, console)
    console("stopped")
    return 0


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _is_ours(component: dict[str, Any], pid: int, config: StackConfig) -> bool:
    """Whether live `pid` is still the process `stack.json` recorded (pids get reused)."""
    cmdline = process_cmdline(pid)
    kind = component.get("kind")
    if kind == "nats":
        return str(config.nats_dir / "nats.conf") in cmdline
    if kind == "postgres":
        return str(config.postgres_dir) in cmdline
    if kind == "service":
        ops = str(component.get("ops_url", "")).removeprefix("http://")
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return False
        return f"TUSK_OPS_ADDR={ops}".encode() in environ
    return False


def stop_leftovers(config: StackConfig, console: Console) -> int:
    """Stop processes a `tusk up` that died without shutting down (kill -9) left; returns how many."""
    state = read_state(config.state_file) or {}
    if state.get("supervisor", {}).get("pid") in (os.getpid(), running_pid(config.lock_file)):
        return 0
    stopped = 0
    # Services first, then Postgres, then NATS: the normal shutdown order.
    for comp in sorted(state.get("components", []), key=lambda c: {"postgres": 1, "nats": 2}.get(c.get("kind"), 0)):
        pid = comp.get("pid")
        if not comp.get("managed", True) or not pid_alive(pid) or not _is_ours(comp, pid, config):
            continue
        console(f"stopping {comp.get('name')} (pid {pid}), left over by a `tusk up` that did not shut down")
        try:
            os.kill(pid, signal.SIGINT if comp.get("kind") == "postgres" else signal.SIGTERM)
            if not _wait_gone(pid, 30.0):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5.0)
        except ProcessLookupError:
            pass
        stopped += 1
    return stopped
