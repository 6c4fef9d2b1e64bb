"""How big each workload is: the full run, and `--quick` (about ten times smaller, for a smoke run)."""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class Sizes:
    big_file: int  # the "1 GiB" file of put-1g, edit-1m, get-1g and snapshot-mixed
    edit: int  # bytes overwritten in the middle of it
    mixed_small_files: int  # small files beside the big one in snapshot-mixed
    mixed_small_min: int
    mixed_small_max: int
    mixed_new_files: int  # files added by the second snapshot
    put_many_files: int  # put-10k
    put_many_size: int
    finish_repo_small: int  # finish-latency: repo size of the first measurement
    finish_repo_large: int  # ... and of the second
    finish_samples: int  # single-file commits timed at each size
    disk_probe: int  # bytes written and read by dd

    @property
    def label(self) -> str:
        return "quick" if self is QUICK else "full"


FULL = Sizes(
    big_file=1 * GiB,
    edit=1 * MiB,
    mixed_small_files=10_000,
    mixed_small_min=1 * KiB,
    mixed_small_max=20 * KiB,
    mixed_new_files=100,
    put_many_files=10_000,
    put_many_size=10 * KiB,
    finish_repo_small=10_000,
    finish_repo_large=100_000,
    finish_samples=50,
    disk_probe=1 * GiB,
)

QUICK = Sizes(
    big_file=100 * MiB,
    edit=1 * MiB,
    mixed_small_files=1_000,
    mixed_small_min=1 * KiB,
    mixed_small_max=20 * KiB,
    mixed_new_files=10,
    put_many_files=1_000,
    put_many_size=10 * KiB,
    finish_repo_small=1_000,
    finish_repo_large=10_000,
    finish_samples=20,
    disk_probe=100 * MiB,
)


def human(n: float) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(n) >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n:.0f} B"
