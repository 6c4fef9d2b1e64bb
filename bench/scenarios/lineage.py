"""lineage: upstream/downstream provenance queries on a DAG of 10 chained pipelines, p50 and p99, and how
they grow from ~1,100 to ~11,000 commits (≥100,000 file edges). The graph is built through the lineage
service's own store (the events the scheduler and versioning would send) on an embedded Postgres."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from typing import Any

from bench.context import Context, Scenario
from bench.report import Check, Goal, Row

NAME = "lineage"
GOAL_P50_MS = 20.0
GOAL_P99_MS = 100.0


def _results(ctx: Context, sizes: tuple[int, ...]) -> list[Any]:
    from tusk_common.embedded import PostgresProcess
    from tusk_lineage.benchmark import run_scenario

    root = ctx.work.root / "lineage-pg"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    pg = PostgresProcess(root / "data")
    pg.start(fsync=False)
    try:
        return asyncio.run(run_scenario(pg.url("postgres"), sizes))
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def run(ctx: Context) -> Iterator[Row]:
    sizes = (100,) if ctx.sizes.label == "quick" else (100, 1000)
    ctx.log(f"{NAME}: building DAGs with {', '.join(map(str, sizes))} input commits")
    got = ctx.attempt(lambda: _results(ctx, sizes))
    if got.value is None:
        yield Row(NAME, "lineage queries", "ms", None, "—", None, None, got.error)
        return
    p50 = Goal(f"≤ {GOAL_P50_MS:g} ms", (Check("value", "<=", GOAL_P50_MS),))
    p99 = Goal(f"≤ {GOAL_P99_MS:g} ms", (Check("value", "<=", GOAL_P99_MS),))
    smallest = {t.name: t for t in got.value[0].timings}
    for result in got.value:
        label = f"{result.commits:,} commits, {result.file_edges:,} edges"
        for t in result.timings:
            base = smallest[t.name] if result is not got.value[0] else None
            for q, goal in (("p50", p50), ("p99", p99)):
                yield Row(
                    NAME, f"{t.name} {q} @ {label}", "ms", getattr(t, q),
                    f"{q} @ {got.value[0].commits:,} commits" if base else "—",
                    getattr(base, q) if base else None, goal,
                    f"depth-10 DAG; {len(t.samples_ms)} queries; built in {result.build_seconds:.0f} s",
                )


SCENARIO = Scenario(NAME, "provenance queries upstream/downstream at depth 10, at two graph sizes", run)
