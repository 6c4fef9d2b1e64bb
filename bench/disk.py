"""The disk's own sequential speeds, measured with `dd` on the file system that holds `.bench/`."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.sizes import MiB
from bench.workdir import Workdir

_BS = 4 * MiB
_COPIED = re.compile(r"(\d+) bytes .* copied, ([0-9.]+) s")


@dataclass(frozen=True)
class DiskSpeed:
    write_mib_s: float
    read_mib_s: float
    read_method: str  # "drop_caches", "O_DIRECT" or "page cache (not dropped)"
    fs: str


def _dd(*args: str) -> tuple[int, float]:
    res = subprocess.run(
        ["dd", f"bs={_BS}", *args], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}
    )
    if res.returncode != 0:
        raise RuntimeError(f"dd {' '.join(args)}: {res.stderr.strip()}")
    m = _COPIED.search(res.stderr)
    if not m:
        raise RuntimeError(f"cannot read dd's summary: {res.stderr.strip()!r}")
    return int(m.group(1)), float(m.group(2))


def file_system(path: Path) -> str:
    res = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", str(path)], capture_output=True, text=True)
    return " ".join(res.stdout.split()) or "unknown"


def measure(work: Workdir, size: int) -> DiskSpeed:
    """Sequential write (`conv=fdatasync`, so the time includes reaching the disk), then sequential read
    of the same file with a cold cache."""
    probe = work.scratch("disk") / "dd.probe"
    try:
        work.drop_caches()
        n, secs = _dd("if=/dev/zero", f"of={probe}", f"count={size // _BS}", "conv=fdatasync")
        write = n / MiB / secs
        method, flags = ("drop_caches", []) if work.drop_caches() else ("O_DIRECT", ["iflag=direct"])
        try:
            n, secs = _dd(f"if={probe}", "of=/dev/null", *flags)
        except RuntimeError:
            method = "page cache (not dropped)"
            n, secs = _dd(f"if={probe}", "of=/dev/null")
        return DiskSpeed(write, n / MiB / secs, method, file_system(work.root))
    finally:
        work.clear_scratch("disk")
