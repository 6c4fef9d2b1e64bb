"""put-10k: many small files with one `tusk put file -r`, in files per second, against `dvc add`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from bench import workload
from bench.context import SEED_MANY, Context, Scenario
from bench.references.dvc import DvcRepo
from bench.report import Row, at_least, notes
from bench.sizes import human
from bench.workdir import warm

NAME = "put-10k"
REPO = "bench-many"


def make_tree(ctx: Context) -> Path:
    s = ctx.sizes
    tree = ctx.work.inputs / "many" / "tree"
    if not tree.exists():
        staging = tree.with_name("tree.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        workload.small_files(staging, s.put_many_files, s.put_many_size, s.put_many_size, SEED_MANY)
        staging.rename(tree)
    return tree


def _tusk(ctx: Context, tree: Path) -> float:
    stack = ctx.stack()
    stack.create_repo(REPO)
    warm(tree)
    return ctx.sizes.put_many_files / stack.put_tree(REPO, "/", tree)


def _dvc(ctx: Context, tree: Path) -> float:
    repo = DvcRepo(ctx.tools.dvc(), ctx.work.scratch(NAME) / "dvc").init()
    shutil.copytree(tree, repo.root / "data")
    warm(repo.root / "data")
    return ctx.sizes.put_many_files / repo.add("data")


def run(ctx: Context) -> Iterator[Row]:
    s = ctx.sizes
    tree = make_tree(ctx)
    dvc = ctx.attempt(lambda: _dvc(ctx, tree))
    tusk = ctx.attempt(lambda: _tusk(ctx, tree))
    metric = f"put {s.put_many_files:,} files of {human(s.put_many_size)}"
    yield Row(NAME, metric, "files/s", tusk.value, "dvc add", dvc.value, at_least(5), notes(tusk.error, dvc.error))


SCENARIO = Scenario(NAME, "files/s of one `tusk put file -r` of many small files", run, needs=("many",))
