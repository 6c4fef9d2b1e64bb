"""Running a reference tool as a subprocess and timing it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

_TIMEOUT = 3600


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run `args` in `cwd` and return its wall time in seconds; a failure raises with its stderr tail."""
    t0 = time.perf_counter()
    res = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT, env={**os.environ, **(env or {})}
    )
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        tail = " ".join((res.stderr or res.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"`{' '.join(args[:3])}` exited {res.returncode}: {tail[:300]}")
    return elapsed
