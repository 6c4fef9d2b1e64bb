"""Peak resident memory of one process, sampled from `/proc/<pid>/status` while something runs."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from bench.sizes import KiB

_INTERVAL = 0.02


def read_status(pid: int) -> dict[str, int]:
    """`VmRSS`, `VmHWM` and friends of `pid`, in bytes (empty once the process is gone)."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key.startswith("Vm") and rest.strip().endswith("kB"):
            out[key] = int(rest.split()[0]) * KiB
    return out


class RssSampler:
    """`with RssSampler(pid) as s: …` → `s.peak` (max VmRSS seen), `s.hwm` (the kernel's VmHWM at the end,
    which also covers peaks between samples but counts from the process's start)."""

    def __init__(self, pid: int, interval: float = _INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.start_rss = 0
        self.hwm = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self.start_rss = read_status(self.pid).get("VmRSS", 0)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.hwm = read_status(self.pid).get("VmHWM", 0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            rss = read_status(self.pid).get("VmRSS", 0)
            self.peak = max(self.peak, rss)
            self.samples += 1
            self._stop.wait(self.interval)
