"""The local runner: transforms run as plain processes of this host.

Without a private mount namespace there is no `/pfs` to bind, so `/pfs` at the start of a path in the
transform's argv, stdin, env values and working_dir is rewritten to the slot's scratch directory, and
the `TUSK_PFS*` variables point there. A program that builds `/pfs/...` paths itself must read them
from `$TUSK_PFS_OUT` and `$TUSK_PFS_<INPUT>` instead (docs/pipelines.md).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from tusk_worker.runners.base import Handle, Runner, Slot

_PFS = re.compile(r"(?<![A-Za-z0-9_./-])/pfs(?![A-Za-z0-9_.-])")


class LocalHandle(Handle):
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def wait(self) -> int:
        return await self.proc.wait()

    def kill(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class LocalSlot(Slot):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.pfs = str(root / "pfs")

    def secret_path(self, index: int, mount_path: str) -> tuple[Path, str]:
        host = self.root / "secrets" / str(index)
        return host, str(host)

    def rewrite(self, text: str) -> str:
        return _PFS.sub(lambda _m: self.pfs, text)

    async def spawn(self, argv: Sequence[str], env: dict[str, str], cwd: str | None,
                    fds: tuple[int, int, int]) -> Handle | str:  # fmt: skip
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=fds[0], stdout=fds[1], stderr=fds[2], env=env, cwd=cwd or self.pfs,
                start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            return f"{argv[0]}: {exc.strerror or exc}"
        return LocalHandle(proc)


class LocalRunner(Runner):
    name = "local"

    def __init__(self, scratch: Path, size: int) -> None:
        self._free: asyncio.LifoQueue[LocalSlot] = asyncio.LifoQueue()
        self._recycling: set[asyncio.Task[None]] = set()
        for i in range(size):
            root = scratch / f"slot-{i}"
            root.mkdir(parents=True, exist_ok=True)
            self._free.put_nowait(LocalSlot(root))

    @asynccontextmanager
    async def slot(self, mounts: tuple[str, ...] = ()) -> AsyncIterator[Slot]:
        slot = await self._checkout()
        try:
            yield slot
        finally:
            self._checkin(slot)
