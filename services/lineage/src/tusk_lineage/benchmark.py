"""The lineage bench: a DAG of 10 chained pipelines over N input commits, built directly through the store
(the facts the consumer would apply), then upstream/downstream file queries timed at depth 10.

Shape: repo `raw` gets N commits of `files_per_commit` new files each; pipeline p1 reads `raw` with glob
`/*`, p2 reads p1, ..., p10 reads p9; every job processes the new files (one datum each) and carries the
older outputs over. So N = 1,000 gives 11,000 commits, 100,000 datum runs, 100,000 file edges read and
100,000 produced. Queries: upstream from a random leaf file (p10's head, through carried-over versions)
and downstream from a random root file (a `raw` file at its commit), each the whole depth-10 walk.

`make bench` calls `run_scenario(dsn)`; `python -m tusk_lineage.benchmark [N ...]` runs it on an
embedded Postgres and prints the table.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from tusk_common.db import create_pool, migrate
from tusk_common.settings import DatabaseSettings
from tusk_lineage import graphs
from tusk_lineage.adapters import store
from tusk_lineage.app import migrations
from tusk_lineage.deps import Deps
from tusk_lineage.domain.facts import CommitFact, FileChange, InputFile, JobFact, JobInputFact, RunFact
from tusk_lineage.settings import LineageSettings

STAGES = 10
GOAL_P50_MS = 20.0
GOAL_P99_MS = 100.0


@dataclass(frozen=True)
class Timing:
    name: str
    samples_ms: tuple[float, ...]
    nodes: int  # nodes in one answer (the last one)

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.samples_ms, n=100, method="inclusive")[98]


@dataclass(frozen=True)
class Result:
    input_commits: int
    commits: int
    runs: int
    file_edges: int  # run_inputs rows: (datum run, exact input file version) pairs
    produced: int
    build_seconds: float
    timings: tuple[Timing, ...]

    def rows(self) -> list[str]:
        out = []
        for t in self.timings:
            ok = t.p50 <= GOAL_P50_MS and t.p99 <= GOAL_P99_MS
            out.append(f"{self.commits:>7} commits {self.file_edges:>8} edges  {t.name:<22} p50 {t.p50:7.2f} ms"
                       f"  p99 {t.p99:7.2f} ms  nodes {t.nodes:>4}  {'ok' if ok else 'MISSED'}")  # fmt: skip
        return out


def _h(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _cid(text: str) -> str:
    return _h("commit:" + text)


async def build(deps: Deps, input_commits: int, files_per_commit: int = 10, *, seed: int = 7) -> None:
    """Apply the facts of the whole DAG, commit by commit, as the consumer would."""
    now = datetime.now(UTC)
    heads: dict[str, str | None] = {"raw": None, **{f"p{k}": None for k in range(1, STAGES + 1)}}
    async with deps.pool.acquire() as conn:
        for n in range(input_commits):
            async with conn.transaction():
                cset = _cid(f"raw/{n}")
                files = [f"/d{n:05d}/f{i:02d}.bin" for i in range(files_per_commit)]
                prev = ("raw", cset)
                await _commit(conn, "raw", cset, heads, cset, [FileChange(p, _h(f"raw{p}"), 64) for p in files])
                for k in range(1, STAGES + 1):
                    repo, src = f"p{k}", prev
                    out = _cid(f"{repo}/{n}")
                    job = _h(f"job/{repo}/{n}")
                    await store.upsert_job(conn, JobFact(job=job, pipeline=repo, pipeline_version=1, commit_set=cset,
                                                         state="created", output_repo=repo, created_at=now))  # fmt: skip
                    outputs = {p: _h(f"{repo}{p}") for p in files}
                    await _commit(conn, repo, out, heads, cset, [FileChange(p, c, 64) for p, c in outputs.items()])
                    await store.record_runs(conn, [RunFact(
                        job=job, pipeline=repo, datum_id=_h(f"{repo}{p}"), datum_hash=_h(f"{repo}{p}{n}"),
                        state="success", inputs=(InputFile(src[0], src[0], src[1], p, _h(f"{src[0]}{p}"), 64),),
                        outputs={p: (outputs[p], 64)},
                    ) for p in files])  # fmt: skip
                    await store.upsert_job(conn, JobFact(
                        job=job, pipeline=repo, pipeline_version=1, commit_set=cset, state="success",
                        output_repo=repo, output_commit=out, inputs=(JobInputFact(src[0], "master", src[1]),),
                        finished_at=now,
                    ))  # fmt: skip
                    await store.attach_job(conn, job)
                    prev = (repo, out)


async def _commit(conn: asyncpg.Connection, repo: str, commit: str, heads: dict[str, str | None], cset: str,
                  changes: list[FileChange]) -> None:  # fmt: skip
    row = await store.upsert_commit(conn, CommitFact(commit=commit, repo=repo, branch="master", parent=heads[repo],
                                                     commit_set=cset, origin="user" if repo == "raw" else "auto",
                                                     state="finished"))  # fmt: skip
    await store.record_versions(conn, row, changes)
    heads[repo] = commit


async def measure(deps: Deps, input_commits: int, files_per_commit: int = 10, samples: int = 200,
                  seed: int = 11) -> tuple[Timing, ...]:  # fmt: skip
    rng = random.Random(seed)
    async with deps.pool.acquire() as conn:
        leaf = await store.get_commit(conn, _cid(f"p{STAGES}/{input_commits - 1}"))
    assert leaf is not None
    timings = []
    cases = {
        "upstream leaf file": lambda: (leaf, f"/d{rng.randrange(input_commits):05d}/f{rng.randrange(files_per_commit):02d}.bin", "upstream"),
        "downstream root file": lambda: (None, rng.randrange(input_commits), "downstream"),
    }  # fmt: skip
    for name, pick in cases.items():
        took: list[float] = []
        nodes = 0
        for _ in range(samples):
            commit, where, direction = pick()
            if commit is None:
                async with deps.pool.acquire() as conn:
                    commit = await store.get_commit(conn, _cid(f"raw/{where}"))
                where = f"/d{where:05d}/f{rng.randrange(files_per_commit):02d}.bin"
            assert commit is not None
            t0 = time.perf_counter()
            g = await graphs.file_graph(deps, commit, where, direction, STAGES)  # type: ignore[arg-type]
            took.append((time.perf_counter() - t0) * 1000)
            nodes = len(g.nodes)
            assert sum(n.kind == "file" for n in g.nodes.values()) == STAGES + 1, "a chain of 11 files"
        timings.append(Timing(name, tuple(took), nodes))
    took = []
    for _ in range(samples):
        c = await _commit_row(deps, _cid(f"p{STAGES}/{rng.randrange(input_commits)}"))
        t0 = time.perf_counter()
        g = await graphs.commit_graph(deps, c, "upstream", STAGES)
        took.append((time.perf_counter() - t0) * 1000)
    timings.append(Timing("upstream leaf commit", tuple(took), len(g.nodes)))
    return tuple(timings)


async def _commit_row(deps: Deps, commit: str) -> store.CommitRow:
    async with deps.pool.acquire() as conn:
        row = await store.get_commit(conn, commit)
    assert row is not None
    return row


async def run_size(dsn: str, input_commits: int, *, schema: str = "lineage_bench", files_per_commit: int = 10,
                   samples: int = 200) -> Result:  # fmt: skip
    """Build one DAG in a fresh schema of `dsn`, time the queries, drop the schema."""
    from pydantic import SecretStr

    settings = LineageSettings(database=DatabaseSettings(url=SecretStr(dsn), pool_max=4), schema_name=schema)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await admin.close()
    pool = await create_pool(settings.database, schema=schema)
    try:
        await migrate(pool, schema=schema, migrations=migrations())
        deps = Deps(pool=pool, sources=None, settings=settings)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        await build(deps, input_commits, files_per_commit)
        built = time.perf_counter() - t0
        await pool.execute("ANALYZE")
        timings = await measure(deps, input_commits, files_per_commit, samples)
        async with pool.acquire() as conn:
            s = await store.stats(conn)
        return Result(input_commits, s["commits"], s["runs"], s["run_inputs"], s["produced"], built, timings)
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()


async def run_scenario(dsn: str, sizes: tuple[int, ...] = (100, 1000), samples: int = 200) -> list[Result]:
    """The bench scenario: the same DAG with 100 and 1,000 input commits (≈1,100 and ≈11,000 commits)."""
    return [await run_size(dsn, n, samples=samples) for n in sizes]


def main(argv: list[str]) -> int:
    sizes = tuple(int(a) for a in argv) or (100, 1000)
    from tusk_common.embedded import PostgresProcess

    root = Path(tempfile.mkdtemp(prefix="tusk-lineage-bench-"))
    pg = PostgresProcess(root / "data")
    pg.start(fsync=False)
    try:
        for result in asyncio.run(run_scenario(pg.url("postgres"), sizes)):
            print(f"# {result.input_commits} input commits: {result.commits} commits, {result.runs} runs,"
                  f" {result.file_edges} file edges read, {result.produced} produced; built in"
                  f" {result.build_seconds:.1f} s")  # fmt: skip
            for row in result.rows():
                print(row)
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
