"""Progress bars for transfers: on stderr, only when stderr is a terminal, only for big transfers."""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

MIN_BYTES = 4 << 20
MIN_FILES = 50


def on_terminal() -> bool:
    return sys.stderr.isatty()


def wanted(total_bytes: int | None, files: int = 1, *, tty: bool | None = None) -> bool | None:
    """True: show now; False: never; None: unknown size, show once MIN_BYTES have moved."""
    if tty is None:
        tty = on_terminal()
    if not tty:
        return False
    if total_bytes is None:
        return None
    return total_bytes >= MIN_BYTES or files >= MIN_FILES


class TransferBar:
    """A byte-counting callback for the SDK's `progress=` that draws a rich bar when it is worth it.

    Thread-safe: parallel transfers call it from worker threads.
    """

    def __init__(
        self,
        description: str,
        total_bytes: int | None,
        files: int = 1,
        *,
        tty: bool | None = None,
        console: Console | None = None,
    ) -> None:
        self.description = description
        self.total = total_bytes
        self.done = 0
        self._mode = wanted(total_bytes, files, tty=tty)
        self._console = console
        self._lock = threading.Lock()
        self._progress: Any = None  # rich is imported only when a bar is really drawn
        self._task: Any = None

    def __enter__(self) -> TransferBar:
        if self._mode:
            self._start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, advance: int) -> None:
        with self._lock:
            self.done += advance
            if self._progress is None:
                if self._mode is None and self.done >= MIN_BYTES:
                    self._start()  # starts at `done`, this advance included
                return
        if self._task is not None:
            self._progress.advance(self._task, advance)

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console or Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(self.description, total=self.total, completed=self.done)
        self._progress.start()
