"""The sandbox runner: each slot is a long-lived bubblewrap sandbox with the slot's `pfs/` at `/pfs`.

The host's root is bound read-only, `/tmp` is the slot's own, `/pfs` is the slot's scratch directory,
and secrets with a `mount_path` are bound where the spec asks. Inside runs a zygote (`zygote.py`):
spawning a transform is one message to it and one `posix_spawn`, so a datum does not pay for a new
namespace (bwrap takes a few ms per sandbox; a spawn through the zygote costs what a plain one does).
The sandbox has its own PID namespace and dies with the worker, taking every transform with it.
"""

from __future__ import annotations

import array
import asyncio
import json
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog

from tusk_worker.runners.base import Handle, Runner, Slot

log = structlog.get_logger(__name__)
ZYGOTE = Path(__file__).with_name("zygote.py")
_SKIP = {"proc", "dev", "tmp", "pfs"}


def host_binds() -> list[str]:
    """The host's top-level entries, read-only (symlinks such as /bin -> usr/bin kept as symlinks)."""
    args: list[str] = []
    for name in sorted(os.listdir("/")):
        if name in _SKIP:
            continue
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def interpreter_binds() -> list[str]:
    """The interpreter, its venv and the zygote script, read-only at their own paths, when they live
    under a directory the sandbox replaces (a checkout or venv under /tmp, as CI clones may be)."""
    wanted = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)), str(ZYGOTE.parent)}
    args: list[str] = []
    for path in sorted(wanted):
        parts = Path(path).parts
        if len(parts) > 1 and parts[1] in _SKIP and os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_args(root: Path, mounts: Sequence[tuple[Path, str]]) -> list[str]:
    args = ["bwrap", "--tmpfs", "/", *host_binds(), "--dev", "/dev", "--proc", "/proc",
            "--bind", str(root / "tmp"), "/tmp", "--bind", str(root / "pfs"), "/pfs",
            *interpreter_binds()]  # fmt: skip
    for host, target in mounts:
        args += ["--bind", str(host), target]
    return [*args, "--unshare-pid", "--die-with-parent", "--new-session", "--chdir", "/"]


async def bwrap_works(scratch: Path) -> bool:
    """Whether a sandbox can be made here (bwrap installed, namespaces allowed)."""
    if shutil.which("bwrap") is None:
        return False
    probe = scratch / "probe"
    for sub in ("tmp", "pfs"):
        (probe / sub).mkdir(parents=True, exist_ok=True)
    try:
        proc = await asyncio.create_subprocess_exec(
            *bwrap_args(probe, []), "--", "true",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), timeout=10)
    except (OSError, TimeoutError) as exc:
        log.warning("sandbox.unavailable", error=str(exc))
        return False
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    if proc.returncode != 0:
        log.warning("sandbox.unavailable", error=err.decode(errors="replace").strip())
    return proc.returncode == 0


class Zygote:
    """The worker's end of one sandbox's zygote."""

    def __init__(self, proc: asyncio.subprocess.Process, sock: socket.socket) -> None:
        self.proc = proc
        self.sock = sock
        self._loop = asyncio.get_running_loop()
        self._replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._early: dict[int, int] = {}  # exit codes that arrived before the spawn reply was read
        self.alive = True
        self._loop.add_reader(sock.fileno(), self._on_readable)

    @classmethod
    async def start(cls, root: Path, mounts: Sequence[tuple[Path, str]]) -> Zygote:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        errors = root / "sandbox.err"
        try:
            with open(errors, "wb") as err:  # noqa: ASYNC230 - opening a local file for the child
                proc = await asyncio.create_subprocess_exec(
                    *bwrap_args(root, mounts), "--", sys.executable, "-S", "-E", "-s", str(ZYGOTE),
                    str(theirs.fileno()),
                    pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL, stderr=err,
                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                )  # fmt: skip
        finally:
            theirs.close()
        mine.setblocking(False)
        z = cls(proc, mine)
        try:
            ready = await asyncio.wait_for(z._replies.get(), timeout=15)
        except TimeoutError:
            await z.close()
            raise RuntimeError("the sandbox did not start in 15s") from None
        if "ready" not in ready:
            await z.close()
            why = errors.read_text(errors="replace").strip()
            raise RuntimeError(f"the sandbox failed to start: {why}")
        return z

    def _on_readable(self) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._dead()
                return
            msg = json.loads(data)
            if "exit" in msg:
                fut = self._exits.pop(int(msg["exit"]), None)
                if fut is None:
                    self._early[int(msg["exit"])] = int(msg["code"])
                elif not fut.done():
                    fut.set_result(int(msg["code"]))
            else:
                self._replies.put_nowait(msg)

    def _dead(self) -> None:
        if not self.alive:
            return
        self.alive = False
        self._loop.remove_reader(self.sock.fileno())
        for fut in self._exits.values():
            if not fut.done():
                fut.set_result(-signal.SIGKILL)
        self._exits.clear()
        self._replies.put_nowait({"error": "the sandbox died", "code": 125})

    def _send(self, msg: dict[str, Any], fds: Sequence[int] = ()) -> None:
        data = json.dumps(msg).encode()
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        self.sock.sendmsg([data], ancillary)

    async def spawn(self, argv: Sequence[str], env: dict[str, str], cwd: str | None,
                    fds: tuple[int, int, int]) -> Handle | str:  # fmt: skip
        if not self.alive:
            return "the sandbox died"
        self._send({"op": "spawn", "argv": list(argv), "env": env, "cwd": cwd or "/pfs"}, fds)
        reply = await self._replies.get()
        if "pid" not in reply:
            return str(reply.get("error", "spawn failed"))
        pid = int(reply["pid"])
        fut: asyncio.Future[int] = self._loop.create_future()
        if pid in self._early:
            fut.set_result(self._early.pop(pid))
        else:
            self._exits[pid] = fut
        return ZygoteHandle(self, pid, fut)

    def kill(self, pid: int, sig: int) -> None:
        if self.alive:
            try:
                self._send({"op": "kill", "pid": pid, "sig": int(sig)})
            except OSError:
                pass

    async def close(self) -> None:
        if self.alive:
            self._dead()
        self.sock.close()
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        await self.proc.wait()


class ZygoteHandle(Handle):
    def __init__(self, zygote: Zygote, pid: int, exited: asyncio.Future[int]) -> None:
        self.zygote = zygote
        self.pid = pid
        self.exited = exited

    async def wait(self) -> int:
        return await asyncio.shield(self.exited)

    def kill(self, sig: int) -> None:
        self.zygote.kill(self.pid, sig)


class SandboxSlot(Slot):
    pfs = "/pfs"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.zygote: Zygote | None = None
        self.mounts: tuple[str, ...] = ()

    def secret_path(self, index: int, mount_path: str) -> tuple[Path, str]:
        return self.root / "secrets" / str(index), mount_path

    def rewrite(self, text: str) -> str:
        return text

    async def prepare(self, mounts: tuple[str, ...]) -> None:
        """Have a live sandbox whose binds match `mounts` (secret mount paths)."""
        if self.zygote is not None and self.zygote.alive and self.mounts == mounts:
            return
        if self.zygote is not None:
            await self.zygote.close()
            self.zygote = None
        for i in range(len(mounts)):
            (self.root / "secrets" / str(i)).mkdir(parents=True, exist_ok=True)
        binds = [(self.root / "secrets" / str(i), target) for i, target in enumerate(mounts)]
        self.zygote = await Zygote.start(self.root, binds)
        self.mounts = mounts

    async def spawn(self, argv: Sequence[str], env: dict[str, str], cwd: str | None,
                    fds: tuple[int, int, int]) -> Handle | str:  # fmt: skip
        assert self.zygote is not None
        return await self.zygote.spawn(argv, env, cwd, fds)

    async def close(self) -> None:
        if self.zygote is not None:
            await self.zygote.close()
            self.zygote = None


class SandboxRunner(Runner):
    name = "bwrap"

    def __init__(self, scratch: Path, size: int) -> None:
        self._slots = [SandboxSlot(scratch / f"slot-{i}") for i in range(size)]
        # Last in, first out: the slot used last has a warm sandbox with the same mounts most likely.
        self._free: asyncio.LifoQueue[SandboxSlot] = asyncio.LifoQueue()
        self._recycling: set[asyncio.Task[None]] = set()
        for s in self._slots:
            for sub in ("pfs", "tmp", "secrets"):
                (s.root / sub).mkdir(parents=True, exist_ok=True)
            self._free.put_nowait(s)

    async def warm(self) -> None:
        """Start every slot's sandbox now rather than on its first datum."""
        results = await asyncio.gather(*(s.prepare(()) for s in self._slots), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            log.warning("sandbox.warm_failed", error=str(failed[0]))

    @asynccontextmanager
    async def slot(self, mounts: tuple[str, ...] = ()) -> AsyncIterator[Slot]:
        slot = await self._checkout()
        try:
            await slot.prepare(mounts)
            yield slot
        finally:
            self._checkin(slot)

    async def close(self) -> None:
        await super().close()
        await asyncio.gather(*(s.close() for s in self._slots), return_exceptions=True)
