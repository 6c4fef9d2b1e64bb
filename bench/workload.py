"""The data the scenarios move: seeded random bytes, so nothing dedups by accident and a run is repeatable."""

from __future__ import annotations

import random
from pathlib import Path

from bench.sizes import MiB

_BLOCK = 8 * MiB


def random_file(path: Path, size: int, seed: int) -> Path:
    """`size` random bytes at `path`; written once, reused while its size matches."""
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        left = size
        while left:
            n = min(_BLOCK, left)
            f.write(rng.randbytes(n))
            left -= n
    tmp.replace(path)
    return path


def edit_middle(path: Path, size: int, seed: int) -> int:
    """Overwrite `size` bytes in the middle of `path` with new random bytes; returns the offset."""
    offset = path.stat().st_size // 2 - size // 2
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(random.Random(seed).randbytes(size))
    return offset


def small_files(
    root: Path, count: int, min_size: int, max_size: int, seed: int, *, per_dir: int = 1000, prefix: str = "f"
) -> int:
    """`count` random files of `min_size`..`max_size` bytes under `root/dNNN/`; returns bytes written."""
    rng = random.Random(seed)
    total = 0
    for i in range(count):
        d = root / f"d{i // per_dir:03d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        n = rng.randint(min_size, max_size)
        (d / f"{prefix}{i:06d}.bin").write_bytes(rng.randbytes(n))
        total += n
    return total
