"""finish-latency: how long `finish commit` takes for a one-file change, in a repo of N files and of 10 x N
files (the cost must follow the change, not the repo). Built with batched multipart uploads (SDK
`put_files`), then N single-file commits (`start` → `put` → timed `finish`) through `tusk.Client`."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.context import Context, Outcome, Scenario
from bench.report import Check, Goal, Row

NAME = "finish-latency"
REPO = "bench-finish"
FILE_BYTES = 64
PER_DIR = 1000  # files per directory: the tree is /dNNN/fNNNNNN.bin, like a sharded dataset

GROW_STEP = 10_000  # files per build commit
GROW_PARALLEL = 2  # requests at once while building (setup, untimed: keep the 2-core stack responsive)
GROW_TRIES = 3

GOAL_MS = 50.0
GROWTH = 1.5  # "not growing": the larger repo may cost at most this many times the smaller one


def _path(i: int) -> str:
    return f"/d{i // PER_DIR:03d}/f{i:06d}.bin"


@dataclass(frozen=True)
class Latencies:
    files: int
    added: int  # files uploaded to grow the repo to `files` (batched uploads) ...
    build_seconds: float  # ... and how long that took
    finish_ms: tuple[float, ...]

    @property
    def p50(self) -> float:
        return statistics.median(self.finish_ms)

    @property
    def p99(self) -> float:
        if len(self.finish_ms) < 2:
            return self.finish_ms[0]
        return statistics.quantiles(self.finish_ms, n=100, method="inclusive")[98]


def _grow(ctx: Context, client: Any, start: int, stop: int, rng: random.Random) -> float:
    """Add files `start..stop` in commits of `GROW_STEP` files (each one `put_files`: batched multipart
    requests); a step the server drops is retried, so a slow stack still gets its repo built."""
    t0 = time.perf_counter()
    for lo in range(start, stop, GROW_STEP):
        hi = min(lo + GROW_STEP, stop)
        files = [(_path(i), rng.randbytes(FILE_BYTES)) for i in range(lo, hi)]
        for attempt in range(1, GROW_TRIES + 1):
            try:
                client.put_files(REPO, "master", files, parallel=GROW_PARALLEL, message=f"bench: files {lo}..{hi}")
                break
            except Exception as e:  # the typed SDK error is reported when the last try fails
                if attempt == GROW_TRIES:
                    raise
                ctx.log(f"{NAME}: files {lo}..{hi} failed ({type(e).__name__}: {e}); again")
    return time.perf_counter() - t0


def _sample(client: Any, files: int, n: int, rng: random.Random) -> tuple[float, ...]:
    out = []
    for _ in range(n):
        commit = client.start_commit(REPO, "master")
        client.put_file(REPO, commit.id, _path(rng.randrange(files)), rng.randbytes(FILE_BYTES))
        t0 = time.perf_counter()
        client.finish_commit(REPO, commit.id)
        out.append((time.perf_counter() - t0) * 1000)
    return tuple(out)


class _Repo:
    """The growing repo: one client and the number of files it holds so far."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = ctx.stack().client()
        self.client.create_repo(REPO)
        self.files = 0
        self.rng = random.Random(7)

    def measure_at(self, files: int) -> Latencies:
        build, added = _grow(self.ctx, self.client, self.files, files, self.rng), files - self.files
        self.files = files
        n = self.ctx.sizes.finish_samples
        # The growth's events are still being consumed (lineage lists what each big commit added): the
        # timed commits measure a finish, not a finish sharing two cores with the setup's aftermath.
        settled = self.ctx.stack().settle()
        self.ctx.log(f"{NAME}: repo holds {files:,} files ({build:.1f} s to add them, {settled:.1f} s for the"
                     f" consumers to catch up); timing {n} finishes")
        return Latencies(files, added, build, _sample(self.client, files, n, self.rng))


def run(ctx: Context) -> Iterator[Row]:
    s = ctx.sizes
    flat = Goal(f"≤ {GOAL_MS:g} ms", (Check("value", "<=", GOAL_MS),))
    steady = Goal(f"≤ {GOAL_MS:g} ms, ratio ≤ {GROWTH:g}", (*flat.checks, Check("ratio", "<=", GROWTH)))
    small_label, large_label = f"{s.finish_repo_small:,} files", f"{s.finish_repo_large:,} files"
    repo = ctx.attempt(lambda: _Repo(ctx))
    small = ctx.then(repo, lambda r: r.measure_at(s.finish_repo_small))
    for q in ("p50", "p99"):
        yield Row(NAME, f"finish {q} @ {small_label}", "ms", _q(small, q), "—", None, flat,
                  _note(small), extra=_extra(small))

    def grow_on(_small: Latencies) -> Latencies:
        assert repo.value is not None  # small was measured on it
        return repo.value.measure_at(s.finish_repo_large)

    large = ctx.then(small, grow_on)
    for q in ("p50", "p99"):
        yield Row(NAME, f"finish {q} @ {large_label}", "ms", _q(large, q), f"{q} @ {small_label}", _q(small, q),
                  steady, _note(large), extra=_extra(large))
    if repo.value:
        repo.value.client.close()


def _q(got: Outcome[Latencies], q: str) -> float | None:
    return getattr(got.value, q) if got.value else None


def _note(got: Outcome[Latencies]) -> str:
    if got.value is None:
        return got.error
    return f"{len(got.value.finish_ms)} commits; repo grown at {got.value.added / got.value.build_seconds:.0f} files/s"


def _extra(got: Outcome[Latencies]) -> dict[str, Any]:
    if got.value is None:
        return {}
    return {"finish_ms": list(got.value.finish_ms), "build_seconds": got.value.build_seconds}


SCENARIO = Scenario(NAME, "finish-commit latency of a 1-file change at two repo sizes", run)
