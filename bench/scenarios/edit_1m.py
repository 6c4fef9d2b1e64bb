"""edit-1m: overwrite 1 MiB in the middle of the big file and commit again; the figure is the storage
that second version adds. DVC and git-lfs store whole files again; restic, like Tusk, chunks by content."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.context import SEED_EDIT, Context, Scenario
from bench.references.dvc import DvcRepo
from bench.references.gitlfs import LfsRepo
from bench.references.restic import ResticRepo
from bench.report import Row, at_most, notes
from bench.scenarios.put_1g import PATH, REPO, upload_big
from bench.sizes import MiB, human
from bench.workload import edit_middle

NAME = "edit-1m"

Grown = Callable[[], int]  # runs the second version through a tool, returns the bytes it added


def _edit(ctx: Context, path: Path) -> None:
    edit_middle(path, ctx.sizes.edit, SEED_EDIT)


def _tusk(ctx: Context, big: Path) -> Grown:
    upload_big(ctx)
    stack = ctx.stack()
    before = stack.storage()

    def second() -> int:
        stack.put_file(REPO, PATH, big)
        return stack.storage() - before

    return second


def _dvc(ctx: Context, big: Path, root: Path) -> Grown:
    repo = DvcRepo(ctx.tools.dvc(), root).init()
    copy = shutil.copyfile(big, root / "big.bin")
    repo.add("big.bin")
    before = repo.cache_size()

    def second() -> int:
        _edit(ctx, copy)
        repo.add("big.bin")
        return repo.cache_size() - before

    return second


def _lfs(ctx: Context, big: Path, root: Path) -> Grown:
    ctx.tools.git_lfs()
    repo = LfsRepo(root).init()
    copy = shutil.copyfile(big, root / "big.bin")
    repo.commit("big.bin", "v1")
    before = repo.lfs_size()

    def second() -> int:
        _edit(ctx, copy)
        repo.commit("big.bin", "v2")
        return repo.lfs_size() - before

    return second


def _restic(ctx: Context, big: Path, root: Path) -> Grown:
    repo = ResticRepo(ctx.tools.restic(), root / "repo", root / "cache").init()
    repo.backup(big.parent)
    before = repo.size()

    def second() -> int:  # the shared file itself, edited in place by then
        repo.backup(big.parent)
        return repo.size() - before

    return second


def run(ctx: Context) -> Iterator[Row]:
    scratch = ctx.work.scratch(NAME)
    big = ctx.big_file()
    # First versions everywhere, then one edit, then the second versions.
    tusk = ctx.attempt(lambda: _tusk(ctx, big))
    refs = {
        "dvc add (cache)": ctx.attempt(lambda: _dvc(ctx, big, scratch / "dvc")),
        "git-lfs (.git/lfs)": ctx.attempt(lambda: _lfs(ctx, big, scratch / "lfs")),
        "restic (repo)": ctx.attempt(lambda: _restic(ctx, big, scratch / "restic")),
    }
    _edit(ctx, big)
    tusk_added = ctx.then(tusk, lambda second: second())
    metric = f"storage added by a {human(ctx.sizes.edit)} edit of a {human(ctx.sizes.big_file)} file"
    t = tusk_added.value / MiB if tusk_added.value is not None else None
    for name, prepared in refs.items():
        added = ctx.then(prepared, lambda second: second())
        ref = added.value / MiB if added.value is not None else None
        yield Row(NAME, metric, "MiB", t, name, ref, at_most(4, on="value", text="≤ 4 MiB"),
                  notes(tusk_added.error, added.error))


SCENARIO = Scenario(NAME, "bytes of storage a 1 MiB edit of the big file adds", run, needs=("big",))
