"""`stack.json` (what runs where) and `up.lock` (who owns the data dir): the files `status`/`down` read.

`stack.json` never holds a secret: URLs are redacted before they are written.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

STATE_VERSION = 1


def pid_alive(pid: int | None) -> bool:
    """Whether process `pid` exists and is not a zombie (a reaped-later child counts as gone)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user (Postgres runs as its own user under root)
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def process_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


class LockHeld(Exception):
    """Another process holds the data dir's lock; `pid` is the one written in the lock file."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(f"locked by pid {pid}")
        self.pid = pid


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class DataDirLock:
    """`up.lock`: an flock held for the life of the `tusk up` process, the file holding its pid.

    The kernel drops the flock when the process dies, however it dies, so a stale file never blocks.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+b")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            f.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise LockHeld(_read_pid(self.path)) from None
            raise
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n".encode())
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.truncate(0)
            self._file.close()  # drops the flock
            self._file = None


def running_pid(lock_file: Path) -> int | None:
    """The pid of the `tusk up` holding `lock_file`, or None when nobody runs on that data dir."""
    pid = _read_pid(lock_file)
    if not pid_alive(pid):
        return None
    if pid == os.getpid():
        return pid
    # The pid could have been reused: only a held flock proves a `tusk up` still owns the dir.
    try:
        with open(lock_file, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return pid
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError:
        return None
    return None


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace `stack.json` atomically (a reader sees the old or the new file, never half)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"version": STATE_VERSION, **state}, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def read_state(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
