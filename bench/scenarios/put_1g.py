"""put-1g: one big random file into Tusk (`tusk put file -f`), against the disk's sequential write
speed and `dvc add` of the same file. The upload is shared: rss-ingest reads its memory figures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

from bench.context import Context, Outcome, Scenario
from bench.references.dvc import DvcRepo
from bench.report import Row, at_least, notes
from bench.rss import RssSampler
from bench.sizes import MiB, human
from bench.workdir import warm

NAME = "put-1g"
REPO = "bench-big"
PATH = "/big.bin"


@dataclass(frozen=True)
class BigUpload:
    seconds: float
    size: int
    rss: RssSampler | None
    rss_error: str = ""

    @property
    def mib_s(self) -> float:
        return self.size / MiB / self.seconds


def upload_big(ctx: Context) -> BigUpload:
    """The big file into `bench-big@master:/big.bin` (once per run), sampling ingest's memory meanwhile."""

    def upload() -> BigUpload:
        stack = ctx.stack()
        path = ctx.big_file()
        stack.create_repo(REPO)
        pid = ctx.attempt(lambda: stack.service_pid("ingest"))
        warm(path)
        if pid.value is None:
            return BigUpload(stack.put_file(REPO, PATH, path),
                             path.stat().st_size, None, pid.error)
        with RssSampler(pid.value) as rss:
            seconds = stack.put_file(REPO, PATH, path)
        return BigUpload(seconds, path.stat().st_size, rss)

    return ctx.memo("big-upload", upload)


def _dvc_add(ctx: Context) -> float:
    dvc = ctx.tools.dvc()
    repo = DvcRepo(dvc, ctx.work.scratch(NAME) / "dvc").init()
    src = ctx.big_file()
    shutil.copyfile(src, repo.root / "big.bin")
    warm(repo.root / "big.bin")
    seconds = repo.add("big.bin")
    return src.stat().st_size / MiB / seconds


def run(ctx: Context) -> Iterator[Row]:
    size = human(ctx.sizes.big_file)
    metric = f"put {size} file"
    disk = ctx.attempt(ctx.disk)
    dvc = ctx.attempt(lambda: _dvc_add(ctx))
    tusk: Outcome[BigUpload] = ctx.attempt(lambda: upload_big(ctx))
    t = tusk.value.mib_s if tusk.value else None
    extra = {"tusk_seconds": tusk.value.seconds} if tusk.value else {}
    disk_note = f"dd conv=fdatasync on {disk.value.fs}" if disk.value else disk.error
    yield Row(NAME, metric, "MiB/s", t, "disk seq write", disk.value.write_mib_s if disk.value else None,
              at_least(0.5), notes(tusk.error, disk_note), extra=extra)
    yield Row(NAME, metric, "MiB/s", t, "dvc add", dvc.value, None, notes(tusk.error, dvc.error), extra=extra)


SCENARIO = Scenario(NAME, "MiB/s of `tusk put file` of one big random file", run, needs=("big",))
