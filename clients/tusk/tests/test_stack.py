"""`tusk up` / `status` / `down` / `serve` as a user runs them: real subprocesses, real NATS and Postgres
from the wheels, the real services, a tmp data dir and a free public port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import httpx
import pytest

from tusk.stack.services import service_spec
from tusk.stack.state import DataDirLock, pid_alive
from tusk.stack.testing import TUSK, UpProcess, clean_env
from tusk_common.embedded import free_port

READY_TIMEOUT = 120.0
CORE = ("versioning", "ingest")
needs_services = pytest.mark.skipif(
    not all(service_spec(n).installed() for n in CORE),  # type: ignore[union-attr]
    reason="needs the tusk_versioning and tusk_ingest services (python -m) installed",
)
Up = UpProcess


def tusk(*args: str, timeout: float = 120.0, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TUSK, *args], capture_output=True, text=True, timeout=timeout, env=clean_env(**env))


@pytest.fixture
def data() -> Iterator[Path]:
    """A data dir outside pytest's tmp root: pytest resets that root to mode 0700 when another session
    starts, which would lock out Postgres' own system user (under root) mid-test."""
    path = Path(tempfile.mkdtemp(prefix="tusk-stack-test-"))
    try:
        yield path / "data"
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def ups() -> Iterator[Callable[[Path, int], Up]]:
    started: list[Up] = []

    def start(data_dir: Path, port: int) -> Up:
        up = Up(data_dir, port)
        started.append(up)
        return up

    yield start
    for up in started:
        up.__exit__()
        print(f"---- tusk up on {up.data_dir} (exit {up.proc.returncode})\n{up.output()}")


def s3_client(url: str, access: str, secret: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=url, aws_access_key_id=access, aws_secret_access_key=secret, region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def status(data_dir: Path) -> tuple[int, dict[str, Any]]:
    res = tusk("status", "--data-dir", str(data_dir), "--json")
    return res.returncode, json.loads(res.stdout)


def components(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["components"]}


def wait_status(data_dir: Path, pred: Callable[[dict[str, Any]], bool], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        code, report = status(data_dir)
        if code == 0 and pred(report):
            return report
        if time.monotonic() > deadline:
            raise AssertionError(f"status never matched; last (exit {code}): {json.dumps(report, indent=1)}")
        time.sleep(0.3)


def managed_pids(report: dict[str, Any]) -> dict[str, int]:
    return {c["name"]: c["pid"] for c in report["components"] if c["pid"]}


def wait_gone(pids: dict[str, int], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (alive := {n: p for n, p in pids.items() if pid_alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"processes left behind: {alive}"


# ---------------------------------------------------------------- refusals and the quick paths


def test_status_of_a_data_dir_where_nothing_runs_exits_3(tmp_path: Path) -> None:
    res = tusk("status", "--data-dir", str(tmp_path))
    assert res.returncode == 3
    assert "not running" in res.stdout
    code, report = status(tmp_path)
    assert code == 3 and report["running"] is False and report["components"] == []


def test_up_refuses_a_taken_http_port_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = tusk("up", "--data-dir", str(tmp_path / "d"), "--http-addr", f"127.0.0.1:{port}", timeout=30)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        f"tusk: error: 127.0.0.1:{port} is already in use by another program; "
        "free it or choose another address with --http-addr HOST:PORT"
    )
    assert not (tmp_path / "d" / "postgres").exists()


def test_up_refuses_a_data_dir_another_up_holds(tmp_path: Path) -> None:
    lock = DataDirLock(tmp_path / "up.lock")  # what a running `tusk up` holds
    lock.acquire()
    try:
        res = tusk("up", "--data-dir", str(tmp_path), "--http-addr", f"127.0.0.1:{free_port()}", timeout=30)
    finally:
        lock.release()
    assert res.returncode == 1
    assert f"another `tusk up` (pid {os.getpid()}) already runs on {tmp_path}" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_up_rejects_a_malformed_http_addr(tmp_path: Path) -> None:
    res = tusk("up", "--data-dir", str(tmp_path), "--http-addr", "nonsense", timeout=30)
    assert res.returncode == 2 and "HOST:PORT" in res.stderr


def test_down_when_nothing_runs_says_so(tmp_path: Path) -> None:
    res = tusk("down", "--data-dir", str(tmp_path))
    assert res.returncode == 0 and "no stack is running" in res.stdout


def test_serve_an_unknown_service_is_one_clear_line() -> None:
    res = tusk("serve", "nope", timeout=30)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        "tusk: error: unknown service 'nope'; one of: versioning, ingest, scheduler, worker, lineage"
    )


# ---------------------------------------------------------------- the whole stack


@pytest.mark.slow
@pytest.mark.timeout(400)
@needs_services
def test_up_supervises_restarts_stops_cleanly_and_keeps_data(
    data: Path, ups: Callable[[Path, int], Up]
) -> None:
    port = free_port()
    first = ups(data, port)
    first.wait_ready()

    code, report = status(data)
    assert code == 0, report
    comps = components(report)
    assert {"nats", "postgres", *CORE} <= set(comps)
    for name, comp in comps.items():
        assert comp["alive"] is True and comp["healthy"] is True, (name, comp)
        assert isinstance(comp["pid"], int) and pid_alive(comp["pid"]), name
    assert comps["ingest"]["url"] == first.url
    assert comps["versioning"]["metrics_url"].endswith("/metrics")
    assert httpx.get(comps["versioning"]["metrics_url"], trust_env=False).status_code == 200
    assert comps["nats"]["url"].startswith("nats://127.0.0.1:") and not comps["nats"]["url"].endswith(":4222")
    assert comps["postgres"]["url"].startswith("postgresql://postgres@127.0.0.1:")
    human = tusk("status", "--data-dir", str(data))
    assert human.returncode == 0 and "healthy" in human.stdout and "versioning" in human.stdout

    second = tusk("up", "--data-dir", str(data), "--http-addr", f"127.0.0.1:{free_port()}", timeout=30)
    assert second.returncode == 1 and "already runs on" in second.stderr

    with httpx.Client(base_url=first.url, trust_env=False, timeout=30) as http:
        created = http.post("/api/v1/repos", json={"name": "survivor", "description": "made in run 1"})
        assert created.status_code == 201, created.text

    # The S3 gateway takes the keys `tusk up` made for this data dir, and refuses others.
    keys_file = data / "s3-gateway.keys"
    first.wait_line(lambda line: line == f"S3 gateway at {first.url} (access and secret key in {keys_file})", 5)
    keys = dict(line.split("=", 1) for line in keys_file.read_text().splitlines())
    s3 = s3_client(first.url, keys["access_key"], keys["secret_key"])
    s3.put_object(Bucket="survivor", Key="hello.txt", Body=b"over s3")
    assert s3.get_object(Bucket="survivor", Key="hello.txt")["Body"].read() == b"over s3"
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3_client(first.url, keys["access_key"], "not-the-secret").list_buckets()
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    old = comps["versioning"]["pid"]
    os.kill(old, signal.SIGKILL)
    first.wait_line(lambda line: f"versioning (pid {old}) killed by SIGKILL; restarting in 1s" in line, 30)
    report = wait_status(data, lambda r: components(r)["versioning"]["pid"] != old
                         and components(r)["versioning"]["healthy"])
    assert components(report)["versioning"]["restarts"] == 1
    first.wait_line(lambda line: "versioning restarted (pid" in line, 5)

    pids = managed_pids(report)
    assert first.stop() == 0, first.output()
    wait_gone(pids, 10)
    assert status(data)[0] == 3

    again = ups(data, port)
    again.wait_ready()
    with httpx.Client(base_url=again.url, trust_env=False, timeout=30) as http:
        repo = http.get("/api/v1/repos/survivor")
        assert repo.status_code == 200, repo.text
        assert repo.json()["description"] == "made in run 1"
    same_keys = s3_client(again.url, keys["access_key"], keys["secret_key"])
    assert same_keys.get_object(Bucket="survivor", Key="hello.txt")["Body"].read() == b"over s3"
    assert again.stop() == 0, again.output()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_detach_returns_once_ready_and_down_stops_everything(data: Path) -> None:
    port = free_port()
    res = tusk("up", "--detach", "--data-dir", str(data), "--http-addr", f"127.0.0.1:{port}",
               timeout=READY_TIMEOUT + 30)
    try:
        assert res.returncode == 0, res.stdout + res.stderr
        assert res.stdout.splitlines()[0] == f"Tusk is ready at http://127.0.0.1:{port}"
        code, report = status(data)
        assert code == 0, report
        assert "Tusk is ready at" in (data / "logs" / "supervisor.log").read_text()
        pids = {**managed_pids(report), "supervisor": report["supervisor"]["pid"]}
        assert "nats" in pids and "postgres" in pids
    finally:
        down = tusk("down", "--data-dir", str(data))
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped" in down.stdout
    wait_gone(pids, 10)
    assert status(data)[0] == 3


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_killed_up_leaves_no_services_and_the_next_up_clears_its_leftovers(
    data: Path, ups: Callable[[Path, int], Up]
) -> None:
    port = free_port()
    first = ups(data, port)
    first.wait_ready()
    report = status(data)[1]
    pids = managed_pids(report)
    services = {n: p for n, p in pids.items() if components(report)[n]["kind"] == "service"}
    first.proc.kill()
    first.proc.wait(10)
    wait_gone(services, 15)  # they get SIGTERM when their supervisor dies
    infra = {n: pids[n] for n in ("nats", "postgres")}
    assert all(pid_alive(p) for p in infra.values())  # own sessions: they outlive a SIGKILLed supervisor

    again = ups(data, port)
    again.wait_ready()
    assert "left over by a `tusk up` that did not shut down" in again.output()
    wait_gone(infra, 5)
    assert again.stop() == 0, again.output()


@pytest.mark.slow
@pytest.mark.timeout(400)
@needs_services
def test_serve_runs_one_service_in_the_foreground_from_env(
    nats_server: Any, database_url: str, tmp_path: Path
) -> None:
    ops = free_port()
    env = clean_env(TUSK_NATS_URL=nats_server.url, TUSK_DATABASE_URL=database_url,
                    TUSK_STORE_PATH=str(tmp_path / "objects"), TUSK_OPS_ADDR=f"127.0.0.1:{ops}")
    proc = subprocess.Popen([TUSK, "serve", "versioning"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{ops}/readyz", trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "tusk serve versioning never became ready"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0
