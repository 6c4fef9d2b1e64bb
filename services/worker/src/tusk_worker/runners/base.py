"""The runner port: slots (one datum's private /pfs at a time) that run processes and stream their output.

A `Slot` is checked out for one datum: its host directory `root` holds `pfs/` (inputs and `out/`),
`tmp/` and `secrets/`; `pfs` is how the transform sees `pfs/` (`/pfs` in a sandbox, the host path
for a local process). `run` spawns one program with its stdin fed, its stdout/stderr split into lines,
a timeout that kills its whole process group, and returns its `Outcome`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from tusk_worker.settings import WorkerSettings

log = structlog.get_logger(__name__)

OnLine = Callable[[str, str], None]  # (stream, text)
# Slots per unit of the worker's concurrency: a datum set places the next datum's inputs in one slot
# while the current datum's transform runs in the other (transforms of a set still run one at a time).
SLOTS_PER_UNIT = 2
EOF_GRACE = 1.0  # seconds to wait for output after exit (a background child may hold the pipe)


@dataclass(frozen=True)
class Outcome:
    code: int | None  # None when it timed out or was cancelled
    seconds: float
    timed_out: bool = False
    error: str | None = None  # the program could not be started


class Handle(ABC):
    """A started process."""

    @abstractmethod
    async def wait(self) -> int: ...

    @abstractmethod
    def kill(self, sig: int) -> None: ...


class Slot(ABC):
    """One datum's workspace and the means to run programs in it."""

    root: Path
    pfs: str  # how the transform sees root/"pfs"
    dirty = True  # holds a previous datum's files (or was never emptied): reset before handing it out

    @property
    def pfs_dir(self) -> Path:
        return self.root / "pfs"

    def visible(self, host: Path) -> str:
        """How the transform sees a host path below `pfs_dir`."""
        rel = host.relative_to(self.pfs_dir)
        return self.pfs if str(rel) == "." else f"{self.pfs}/{rel}"

    @abstractmethod
    def secret_path(self, index: int, mount_path: str) -> tuple[Path, str]:
        """(host dir to write secret files in, the path the transform sees them at)."""

    @abstractmethod
    def rewrite(self, text: str) -> str:
        """Map `/pfs` paths in argv/stdin/env to what the transform sees (identity in a sandbox)."""

    @abstractmethod
    async def spawn(self, argv: Sequence[str], env: dict[str, str], cwd: str | None,
                    fds: tuple[int, int, int]) -> Handle | str:  # fmt: skip
        """Start a program with (stdin, stdout, stderr); a str is why it could not start."""

    async def reset_out(self) -> None:
        """Empty `/pfs/out` before another attempt."""
        out = self.pfs_dir / "out"
        await asyncio.to_thread(shutil.rmtree, out, True)
        await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)

    async def reset(self) -> None:
        """Empty the workspace for the next datum."""
        await asyncio.to_thread(_empty, self.root)

    async def run(self, argv: Sequence[str], env: dict[str, str], cwd: str | None, stdin: bytes | None,
                  on_line: OnLine, *, timeout: float | None, kill_grace: float, max_line: int) -> Outcome:  # fmt: skip
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        in_r, in_w = os.pipe() if stdin else (os.open(os.devnull, os.O_RDONLY), -1)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            handle = await self.spawn(argv, env, cwd, (in_r, out_w, err_w))
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        pumps = [
            asyncio.create_task(_pump(loop, out_r, "stdout", on_line, max_line)),
            asyncio.create_task(_pump(loop, err_r, "stderr", on_line, max_line)),
        ]
        feeder = asyncio.create_task(_feed(loop, in_w, stdin)) if stdin else None
        try:
            if isinstance(handle, str):
                on_line("stderr", handle)
                return Outcome(code=127, seconds=time.perf_counter() - started, error=handle)
            try:
                code = await asyncio.wait_for(_shielded(handle.wait()), timeout=timeout)
            except TimeoutError:
                await _stop(handle, kill_grace)
                return Outcome(code=None, seconds=time.perf_counter() - started, timed_out=True)
            except asyncio.CancelledError:
                await asyncio.shield(_stop(handle, kill_grace))
                raise
            await asyncio.wait(pumps, timeout=EOF_GRACE)
            return Outcome(code=code, seconds=time.perf_counter() - started)
        finally:
            for t in [*pumps, *([feeder] if feeder else [])]:
                t.cancel()
            await asyncio.gather(*pumps, *([feeder] if feeder else []), return_exceptions=True)


async def _shielded(coro: object) -> int:
    return await coro  # type: ignore[misc]


async def _stop(handle: Handle, grace: float) -> None:
    import signal

    handle.kill(signal.SIGTERM)
    try:
        await asyncio.wait_for(handle.wait(), timeout=grace)
        return
    except TimeoutError:
        pass
    handle.kill(signal.SIGKILL)
    try:
        await asyncio.wait_for(handle.wait(), timeout=5.0)
    except TimeoutError:
        log.warning("runner.unkillable")


async def _pump(loop: asyncio.AbstractEventLoop, fd: int, stream: str, on_line: OnLine, max_line: int) -> None:
    """Read a pipe to EOF, calling `on_line` per line (cut at `max_line` characters)."""
    reader = asyncio.StreamReader(limit=1 << 20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    pending = b""
    try:
        while True:
            block = await reader.read(65536)
            if not block:
                break
            pending += block
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                on_line(stream, raw[:max_line * 4].decode("utf-8", "replace")[:max_line])
            if len(pending) > max_line * 4:
                on_line(stream, pending.decode("utf-8", "replace")[:max_line])
                pending = b""
        if pending:
            on_line(stream, pending.decode("utf-8", "replace")[:max_line])
    finally:
        transport.close()


async def _feed(loop: asyncio.AbstractEventLoop, fd: int, data: bytes) -> None:
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(fd, "wb", buffering=0))
    try:
        transport.write(data)
        transport.write_eof() if transport.can_write_eof() else None
    finally:
        transport.close()


def _empty(root: Path) -> None:
    for sub in ("pfs", "tmp", "secrets"):
        d = root / sub
        if d.exists():
            for child in d.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        d.mkdir(parents=True, exist_ok=True)
    (root / "pfs" / "out").mkdir(exist_ok=True)


class Runner(ABC):
    """Hands out slots: at most `size` at once, reused between datums.

    A returned slot is emptied in the background before it is handed out again, so the cleanup overlaps
    the datum's result being published and the next task being fetched, instead of delaying the next
    datum's start; a slot whose cleanup failed is emptied again when it is next checked out.
    """

    name: str
    _free: asyncio.LifoQueue[Any]
    _recycling: set[asyncio.Task[None]]

    @abstractmethod
    def slot(self, mounts: tuple[str, ...] = ()) -> AbstractAsyncContextManager[Slot]:
        """`async with runner.slot(mounts) as slot`; `mounts` are secret mount paths the slot needs."""

    async def _checkout(self) -> Any:
        slot = await self._free.get()
        if slot.dirty:
            await slot.reset()
            slot.dirty = False
        return slot

    def _checkin(self, slot: Slot) -> None:
        slot.dirty = True
        task = asyncio.create_task(self._recycle(slot), name="slot-reset")
        self._recycling.add(task)
        task.add_done_callback(self._recycling.discard)

    async def _recycle(self, slot: Slot) -> None:
        try:
            await slot.reset()
            slot.dirty = False
        except OSError as exc:
            log.warning("slot.reset_failed", slot=str(slot.root), error=str(exc))
        finally:
            self._free.put_nowait(slot)

    async def close(self) -> None:
        await asyncio.gather(*list(getattr(self, "_recycling", ())), return_exceptions=True)


async def open_runner(settings: WorkerSettings, scratch: Path) -> Runner:
    """The runner the settings ask for; `auto` uses bubblewrap when a sandbox actually starts here."""
    from tusk_worker.runners.local import LocalRunner
    from tusk_worker.runners.sandbox import SandboxRunner, bwrap_works

    slots = settings.concurrency * SLOTS_PER_UNIT
    if settings.runner == "local":
        return LocalRunner(scratch, slots)
    if settings.runner == "bwrap" or await bwrap_works(scratch):
        runner = SandboxRunner(scratch, slots)
        await runner.warm()
        return runner
    log.warning("runner.no_sandbox", hint="install bubblewrap (Debian: bubblewrap) for /pfs paths; "
                "using local processes with /pfs rewritten to scratch paths")  # fmt: skip
    return LocalRunner(scratch, slots)
