"""get-1g: the big file back with `tusk get file -o`, from a cold page cache, against the disk's
sequential read speed (also cold)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from bench.context import Context, Scenario
from bench.report import Row, notes
from bench.scenarios.put_1g import PATH, REPO, upload_big
from bench.sizes import MiB, human

NAME = "get-1g"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 * MiB):
            h.update(block)
    return h.hexdigest()


def _get(ctx: Context) -> tuple[float, float, str]:
    upload_big(ctx)  # a no-op when put-1g ran; edit-1m may have committed a second version since
    stack = ctx.stack()
    out = ctx.work.scratch(NAME) / "big.out"
    cold = ctx.work.drop_caches()
    seconds = stack.get_file(REPO, "master", PATH, out)
    size = out.stat().st_size
    note = "" if cold else "page cache not dropped"
    if _sha256(out) != _sha256(ctx.big_file()):  # a check of the bytes, outside the timing
        note = notes(note, "CONTENT MISMATCH with the local file")
    return size / MiB / seconds, seconds, note


def run(ctx: Context) -> Iterator[Row]:
    # The issue asks for this figure against the disk's read speed and sets no goal for it: the row is
    # context (a read is CPU-bound here: every chunk's BLAKE3 is checked before its bytes are written).
    disk = ctx.attempt(ctx.disk)
    tusk = ctx.attempt(lambda: _get(ctx))
    t, seconds, tusk_note = tusk.value if tusk.value else (None, None, tusk.error)
    disk_note = f"dd read after {disk.value.read_method}" if disk.value else disk.error
    yield Row(NAME, f"get {human(ctx.sizes.big_file)} file", "MiB/s", t, "disk seq read",
              disk.value.read_mib_s if disk.value else None, None, notes(tusk_note, disk_note),
              extra={"tusk_seconds": seconds})


SCENARIO = Scenario(NAME, "MiB/s of `tusk get file -o` of the big file, cold cache", run, needs=("big",))
