"""Local timing of the write path (not a test): atomic 1-file commits and finish latency vs repo size.

    .venv/bin/python services/versioning/scripts/time_finish.py [--sizes 10000 100000] [--rounds 50]

Starts an embedded Postgres and nats-server in a temp dir, runs the service in-process, fills a repo
with N files (one flat directory of N files, plus a 3-level tree), then times over NATS:
  - an atomic 1-file PutFiles on the branch (start + stage + finish in one transaction),
  - start commit, put 1 file, and FinishCommit alone (the finish latency),
and the same use cases called in-process (no NATS hop, with the CPU time they cost); prints the
median and p95 of each. On a loaded machine the wall times swing; the CPU times much less.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from tusk_common.bus import Bus
from tusk_common.embedded import NatsProcess, PostgresProcess
from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import DatabaseSettings, NatsSettings, OpsSettings
from tusk_common.wire import versioning as v
from tusk_versioning import commits, files
from tusk_versioning.app import NAME, build
from tusk_versioning.deps import Deps
from tusk_versioning.settings import VersioningSettings


def put(path: str, data: str) -> v.FileChange:
    raw = data.encode()
    cid = hashlib.blake2b(raw, digest_size=32).hexdigest()
    return v.FileChange(op="put", path=path, content=v.FileContent(id=cid, size=len(raw)))


def quantiles(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1000:6.2f} ms   p95 {xs[int(len(xs) * 0.95) - 1] * 1000:6.2f} ms"


async def fill(bus: Bus, repo: str, n: int) -> None:
    await bus.request(v.CreateRepo(name=repo))
    c = await bus.request(v.StartCommit(repo=repo, branch="master"))
    for start in range(0, n, 10_000):
        batch = []
        for i in range(start, min(n, start + 10_000)):
            # half in one flat directory, half spread over a 3-level tree
            path = f"/flat/f{i:07d}" if i % 2 else f"/tree/{i % 17}/{i % 101}/f{i:07d}"
            batch.append(put(path, str(i)))
        await bus.request(v.PutFiles(repo=repo, ref=c.id, changes=batch), timeout=120)
    t = time.perf_counter()
    await bus.request(v.FinishCommit(repo=repo, ref=c.id), timeout=300)
    print(f"  filled {n} files; finishing the initial commit took {time.perf_counter() - t:.2f}s")


async def measure(bus: Bus, deps: Deps, repo: str, rounds: int) -> None:
    atomic, finish, d_atomic, d_finish, cpu_atomic, cpu_finish = [], [], [], [], [], []
    for r in range(rounds):
        t = time.perf_counter()
        await bus.request(v.PutFiles(repo=repo, ref="master", changes=[put(f"/flat/f{r * 2 + 1:07d}", f"x{r}")]))
        atomic.append(time.perf_counter() - t)
        await bus.request(v.StartCommit(repo=repo, branch="master"))
        await bus.request(v.PutFiles(repo=repo, ref="master", changes=[put(f"/tree/3/5/new{r}", "y")]))
        t = time.perf_counter()
        await bus.request(v.FinishCommit(repo=repo, ref="master"))
        finish.append(time.perf_counter() - t)
        # the same use cases called directly: no NATS hop, and the CPU time they cost this process
        c, t = time.process_time(), time.perf_counter()
        await files.put_files(deps, repo, "master", [put(f"/flat/f{r * 2 + 3:07d}", f"z{r}")], "")
        d_atomic.append(time.perf_counter() - t)
        cpu_atomic.append(time.process_time() - c)
        await commits.start_commit(deps, repo, "master", None, "")
        await files.put_files(deps, repo, "master", [put(f"/tree/4/6/new{r}", "y")], "")
        c, t = time.process_time(), time.perf_counter()
        await commits.finish_commit(deps, repo, "master", None, None)
        d_finish.append(time.perf_counter() - t)
        cpu_finish.append(time.process_time() - c)
    print(f"  atomic 1-file put, RPC over NATS:   {quantiles(atomic)}")
    print(f"  atomic 1-file put, use case:        {quantiles(d_atomic)}   CPU {quantiles(cpu_atomic)}")
    print(f"  FinishCommit 1-file, RPC over NATS: {quantiles(finish)}")
    print(f"  FinishCommit 1-file, use case:      {quantiles(d_finish)}   CPU {quantiles(cpu_finish)}")


async def main(sizes: list[int], rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="tusk-time-"))
    pg, nats = PostgresProcess(root / "pg"), NatsProcess(root / "nats")
    pg.start(fsync=False)
    nats.start()
    try:
        admin_url = pg.url("postgres")
        settings = VersioningSettings(
            nats=NatsSettings(url=nats.url, request_timeout=120),
            database=DatabaseSettings(url=SecretStr(admin_url)),
            ops=OpsSettings(ops_addr="127.0.0.1:0", log_level="warning"),
        )

        built: list[Deps] = []

        async def keep(ctx: ServiceContext) -> None:
            built.append(await build(ctx))

        async with running_service(NAME, settings, keep):
            bus = await Bus.connect(settings.nats, name="timer")
            try:
                for n in sizes:
                    print(f"repo of {n} files:")
                    await fill(bus, f"r{n}", n)
                    await measure(bus, built[0], f"r{n}", rounds)
            finally:
                await bus.close()
    finally:
        nats.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    asyncio.run(main(args.sizes, args.rounds))
