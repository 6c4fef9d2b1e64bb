"""snapshot-mixed: a tree of one big file and many small ones as one snapshot, then "1 MiB edit + new
files" as a second; wall time of `tusk put file -r` against `restic backup` and `dvc add` of the same trees."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from bench import workload
from bench.context import SEED_EDIT, SEED_MIXED_BIG, SEED_MIXED_SMALL, Context, Outcome, Scenario
from bench.references.dvc import DvcRepo
from bench.references.restic import ResticRepo
from bench.report import Row, at_most, notes
from bench.sizes import human
from bench.workdir import warm

NAME = "snapshot-mixed"
REPO = "bench-mixed"

Snapshots = Callable[[Path], float]  # one snapshot of a tree, timed


def make_tree(ctx: Context) -> Path:
    s = ctx.sizes
    tree = ctx.work.inputs / "mixed" / "tree"
    if not tree.exists():
        staging = tree.with_name("tree.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        workload.random_file(staging / "big.bin", s.big_file, SEED_MIXED_BIG)
        workload.small_files(staging / "small", s.mixed_small_files, s.mixed_small_min, s.mixed_small_max,
                             SEED_MIXED_SMALL)
        staging.rename(tree)
    return tree


def change(ctx: Context, tree: Path) -> None:
    """The second snapshot's change: 1 MiB edited in the big file, and new small files."""
    s = ctx.sizes
    workload.edit_middle(tree / "big.bin", s.edit, SEED_EDIT)
    workload.small_files(tree / "new", s.mixed_new_files, s.mixed_small_min, s.mixed_small_max,
                         SEED_MIXED_SMALL + 100, prefix="n")


def _tusk(ctx: Context) -> Snapshots:
    stack = ctx.stack()
    stack.create_repo(REPO)
    return lambda tree: stack.put_tree(REPO, "/", tree)


def _restic(ctx: Context, root: Path) -> Snapshots:
    repo = ResticRepo(ctx.tools.restic(), root / "repo", root / "cache").init()
    return repo.backup


def _dvc(ctx: Context, root: Path, tree: Path) -> tuple[Snapshots, Path]:
    """DVC tracks a directory inside its repo: it gets its own copy of the tree (copied untimed)."""
    repo = DvcRepo(ctx.tools.dvc(), root).init()
    copy = root / "data"
    shutil.copytree(tree, copy)
    return (lambda _tree: repo.add("data")), copy


def _timed(ctx: Context, side: Outcome[Snapshots], tree: Path) -> Outcome[float]:
    if side.value is None:
        return Outcome(None, side.error)
    snapshot = side.value
    warm(tree)
    return ctx.attempt(lambda: snapshot(tree))


def run(ctx: Context) -> Iterator[Row]:
    s = ctx.sizes
    scratch = ctx.work.scratch(NAME)
    tree = make_tree(ctx)
    tusk = ctx.attempt(lambda: _tusk(ctx))
    restic = ctx.attempt(lambda: _restic(ctx, scratch / "restic"))
    dvc_made = ctx.attempt(lambda: _dvc(ctx, scratch / "dvc", tree))
    dvc: Outcome[Snapshots] = Outcome(dvc_made.value[0], "") if dvc_made.value else Outcome(None, dvc_made.error)
    dvc_tree = dvc_made.value[1] if dvc_made.value else tree
    steps = [
        (f"snapshot 1: {human(s.big_file)} file + {s.mixed_small_files:,} small files", None),
        (f"snapshot 2: {human(s.edit)} edit + {s.mixed_new_files} new files", change),
    ]
    for metric, before in steps:
        if before is not None:
            before(ctx, tree)
            if dvc_made.value:
                before(ctx, dvc_tree)
        t = _timed(ctx, tusk, tree)
        r = _timed(ctx, restic, tree)
        d = _timed(ctx, dvc, dvc_tree)
        yield Row(NAME, metric, "s", t.value, "restic backup", r.value, at_most(1, text="faster (ratio ≤ 1)"),
                  notes(t.error, r.error))
        yield Row(NAME, metric, "s", t.value, "dvc add", d.value, at_most(0.5, text="≥ 2x faster (ratio ≤ 0.5)"),
                  notes(t.error, d.error))


SCENARIO = Scenario(NAME, "wall time of two snapshots of a mixed tree", run, needs=("mixed",))
