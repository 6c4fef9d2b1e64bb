"""`tusk` as a real process: exit codes, stdin and stdout pipes, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_server import FakeTusk

import tusk

TUSK = str(Path(sys.executable).parent / "tusk")


def tusk_cmd(fake: FakeTusk, *args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TUSK_URL": fake.url}
    return subprocess.run([TUSK, *args], env=env, capture_output=True, timeout=60, **kwargs)  # type: ignore[call-overload]


def test_the_console_script_is_installed() -> None:
    out = subprocess.run([TUSK, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"tusk {tusk.__version__}"


def test_stdin_is_streamed_into_a_file(fake: FakeTusk, client: tusk.Client) -> None:
    client.create_repo("logs")
    data = os.urandom(3 << 20)
    result = tusk_cmd(fake, "put", "file", "logs@master:/today.bin", "-f", "-", input=data)
    assert result.returncode == 0, result.stderr
    assert fake.requests[-1].headers.get("Transfer-Encoding") == "chunked"
    assert client.read_file("logs", "master", "/today.bin") == data


def test_get_file_to_stdout_streams_bytes(fake: FakeTusk, client: tusk.Client) -> None:
    client.create_repo("r")
    data = bytes(range(256)) * 1000
    client.put_file("r", "master", "/blob", data)
    result = tusk_cmd(fake, "get", "file", "r@master:/blob")
    assert result.returncode == 0 and result.stdout == data


def test_a_closed_stdout_pipe_is_not_a_traceback(fake: FakeTusk, client: tusk.Client) -> None:
    client.create_repo("r")
    client.put_file("r", "master", "/big", b"y" * (8 << 20))
    env = {**os.environ, "TUSK_URL": fake.url}
    proc = subprocess.Popen([TUSK, "get", "file", "r@master:/big"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    code = proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    assert code == 1 and err == ""


def test_errors_and_usage_errors_exit_1_and_2(fake: FakeTusk) -> None:
    missing = tusk_cmd(fake, "inspect", "repo", "nope")
    assert missing.returncode == 1
    assert missing.stderr.decode() == 'tusk: error: repo "nope" not found\n'
    usage = tusk_cmd(fake, "inspect", "repo", "no.dots")
    assert usage.returncode == 2
    assert usage.stderr.decode().splitlines() == [
        "tusk: error: Invalid value for 'REPO': repo 'no.dots' is invalid: use 1-63 letters, digits, '_' or '-'"
        " (see 'tusk inspect repo --help')"
    ]


def test_ctrl_c_exits_130_without_a_traceback(fake: FakeTusk, client: tusk.Client) -> None:
    client.create_repo("r")
    client.start_commit("r", "master")
    env = {**os.environ, "TUSK_URL": fake.url}
    proc = subprocess.Popen([TUSK, "wait", "commit", "r@master"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not any(r.raw_path.endswith("/wait") for r in fake.requests):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"tusk never started waiting: {proc.communicate()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
