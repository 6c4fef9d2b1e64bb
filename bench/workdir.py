"""The `.bench/` directory (gitignored) and the file-system facts the bench reads: sizes, caches.

Layout: `inputs/` (workloads shared by several scenarios, removed after the last one that needs
them), `scratch/<scenario>/` (removed after each scenario), `tusk-data/` (the stack's data dir),
`venv-dvc/` (kept: installing DVC is slow), `results.json`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path
from typing import TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent


class Workdir:
    def __init__(self, root: Path | None = None) -> None:
        # TUSK_BENCH_DIR: another directory (a second checkout's run, or a bigger disk); default .bench/
        self.root = (root or Path(os.environ.get("TUSK_BENCH_DIR") or REPO_ROOT / ".bench")).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._can_drop_caches: bool | None = None
        self._lock: TextIO | None = None

    def lock(self) -> bool:
        """Hold `.bench/run.lock` for the life of this process; False when another run holds it."""
        f = open(self.root / "run.lock", "a")  # held until the process exits
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._lock = f
        return True

    @property
    def inputs(self) -> Path:
        return self._dir("inputs")

    @property
    def tusk_data(self) -> Path:
        return self.root / "tusk-data"

    @property
    def results(self) -> Path:
        return self.root / "results.json"

    def scratch(self, scenario: str) -> Path:
        return self._dir(f"scratch/{scenario}")

    def clear_leftovers(self) -> None:
        """Remove what an interrupted run left (inputs may have been edited in place)."""
        remove(self.root / "scratch")
        remove(self.root / "inputs")

    def clear_scratch(self, scenario: str) -> None:
        remove(self.root / "scratch" / scenario)

    def _dir(self, rel: str) -> Path:
        p = self.root / rel
        p.mkdir(parents=True, exist_ok=True)
        return p

    def drop_caches(self) -> bool:
        """Flush dirty pages, then drop the page cache if this machine lets us (root, writable /proc)."""
        os.sync()
        if self._can_drop_caches is False:
            return False
        try:
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            self._can_drop_caches = True
        except OSError:
            self._can_drop_caches = False
        return self._can_drop_caches


def du(path: Path) -> int:
    """Bytes on disk under `path` (allocated blocks, like `du -s -B1`); 0 when it does not exist."""
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_blocks * 512
    res = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True)
    if res.returncode != 0 and not res.stdout:
        raise RuntimeError(f"du {path}: {res.stderr.strip()}")
    return int(res.stdout.split()[0])


def apparent_size(path: Path) -> int:
    """Sum of file sizes under `path` (what was written, independent of block rounding)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                pass
    return total


def warm(path: Path) -> None:
    """Read `path` (a file or a tree) so a timed write starts from a cached input, like it does for
    every tool in the comparison, and flush dirty pages so no earlier write is paid for by it."""
    subprocess.run(
        ["find", str(path), "-type", "f", "-exec", "cat", "{}", "+"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    os.sync()


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
