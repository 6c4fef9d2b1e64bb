"""Pipelines: trigger latency, trivial datums per second, scale-out over worker processes, incremental
exactness, and a stream of commits, driven as a user drives them (`tusk.Client`: create repo, put files,
create pipeline, inspect job, logs) and timed from Tusk's own events (`bench/events.py`).

Times come from three clocks of this one host, all wall clock: the CloudEvents `time` of each event
(`commit.finished` from versioning, `job.created` / `job.finished` from the scheduler: when the state
change was written), the transform's own clock (`date +%s.%N` as the datum's program), and the scheduler's
job timestamps (`JobInfo.created_at` / `finished_at`). The stack's worker has one slot
(`TUSK_WORKER_CONCURRENCY=1`, bench/stack.py); more workers are `tusk serve worker` processes
(`bench/workers.py`).
"""

from __future__ import annotations

import functools
import random
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.context import Context, Scenario
from bench.events import EventTap, Seen, nats_url
from bench.report import Check, Goal, Row, at_least, at_most, notes
from bench.workers import ExtraWorkers

KINDS = ("commit.finished", "job.created", "job.finished", "datum.done")
SMALL = 1024  # bytes of each input file
JOB_TIMEOUT = 3600.0


@dataclass(frozen=True)
class PipeSizes:
    trigger_commits: int  # pipe-trigger: single-file commits, each waited for
    rate_datums: int  # pipe-datums: datums of `cp` on one worker
    scale_datums: int  # pipe-scale: datums of `sleep 0.05`
    scale_workers: int
    incr_files: int  # pipe-incremental: files of the first commit
    stream_commits: int  # pipe-commits: commits in a row


FULL = PipeSizes(trigger_commits=200, rate_datums=1000, scale_datums=1000, scale_workers=4, incr_files=10_000,
                 stream_commits=1000)
QUICK = PipeSizes(trigger_commits=20, rate_datums=200, scale_datums=100, scale_workers=4, incr_files=1000,
                  stream_commits=20)
WARMUP = 3  # pipe-trigger: commits run first and not counted (first spawn in the sandbox, first queries)

INCR_ADDED, INCR_CHANGED = 10, 5
SLEEP = 0.05
TRIGGER_P50_MS, TRIGGER_P99_MS = 20.0, 100.0
RATE_GOAL = 0.5
SPEEDUP_GOAL = 3.5
INCR_TIME_GOAL = 0.05


def _sizes(ctx: Context) -> PipeSizes:
    return QUICK if ctx.sizes.label == "quick" else FULL


def _spec(name: str, repo: str, cmd: Sequence[str], *, parallelism: int = 1) -> dict[str, Any]:
    """One pfs input, one datum per top-level file (`/*`), seen at `/pfs/in/<file>`."""
    return {"pipeline": {"name": name}, "input": {"pfs": {"repo": repo, "glob": "/*", "name": "in"}},
            "transform": {"cmd": list(cmd)}, "parallelism_spec": {"constant": parallelism}}


COPY = ["cp", "-r", "/pfs/in/.", "/pfs/out/"]  # the datum's one file into the output, no shell


def _files(n: int, seed: int, start: int = 0) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    return [(f"/f{i:06d}.bin", rng.randbytes(SMALL)) for i in range(start, start + n)]


def _field(key: str, value: object) -> Callable[[dict[str, Any]], bool]:
    """A match on one field of an event's data."""
    return lambda d: bool(d.get(key) == value)


def _q(values: Sequence[float], q: float) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


# ---------------------------------------------------------------------------------------- the rig


class Rig:
    """The stack's client and event tap for one scenario; what the scenario creates is deleted after."""

    def __init__(self, ctx: Context, client: Any, tap: EventTap) -> None:
        self.ctx = ctx
        self.stack = ctx.stack()
        self.client = client
        self.tap = tap
        self.pipelines: list[str] = []
        self.repos: list[str] = []

    def repo(self, name: str) -> str:
        self.client.create_repo(name)
        self.repos.append(name)
        return name

    def pipeline(self, spec: dict[str, Any], *, pulling: int = 1) -> str:
        """Create it (its input repo still empty), then wait until `pulling` worker slots wait for its tasks,
        so the jobs timed afterwards do not include a worker finding the new pipeline."""
        name = spec["pipeline"]["name"]
        self.client.create_pipeline(spec)
        self.pipelines.append(name)
        deadline = time.monotonic() + 30
        while self.tap.pulling_workers(name) < pulling:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {pulling} worker slot(s) pull tasks of {name} after 30 s")
            time.sleep(0.05)
        return name

    def job_of(self, pipeline: str, commit: str, timeout: float = JOB_TIMEOUT) -> tuple[Seen, Seen]:
        """(job.created, job.finished) of the job `commit` triggered in `pipeline`."""
        created = self.tap.wait_for(
            "job.created", lambda d: d["pipeline"] == pipeline and d.get("trigger_commit") == commit, 60)
        job = created.data["job"]
        finished = self.tap.wait_for("job.finished", lambda d: d["job"] == job, timeout)
        return created, finished

    def run_job(self, pipeline: str, repo: str, files: list[tuple[str, bytes]]) -> Any:
        """Commit `files` (one commit) and wait for the job it triggers; its `JobInfo`."""
        put = self.client.put_files(repo, "master", files, message=f"bench: {len(files)} files")
        if put.commit is None:
            raise RuntimeError("put_files made no commit")
        created, _ = self.job_of(pipeline, put.commit.id)
        return self.client.inspect_job(pipeline, created.data["job"])

    def cleanup(self) -> None:
        for name in reversed(self.pipelines):
            self._quiet(functools.partial(self.client.delete_pipeline, name, force=True))
        for name in reversed(self.repos):
            self._quiet(functools.partial(self.client.delete_repo, name, force=True))

    def _quiet(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as e:  # cleanup of a scenario that already reported: say so, go on
            self.ctx.log(f"cleanup: {type(e).__name__}: {e}")


@contextmanager
def rig(ctx: Context) -> Iterator[Rig]:
    stack = ctx.stack()
    with stack.client() as client, EventTap(nats_url(stack), KINDS) as tap:
        r = Rig(ctx, client, tap)
        try:
            yield r
        finally:
            r.cleanup()


def _wall(job: Any) -> float:
    """A job's wall time as the scheduler recorded it: created (its trigger seen) to finished."""
    return (job.finished_at - job.created_at).total_seconds()


def _planning(job: Any) -> float:
    """Created to started: the job's inputs listed, its datums planned and recorded, its tasks about to go."""
    return (job.started_at - job.created_at).total_seconds() if job.started_at else 0.0


def _check_success(job: Any, what: str) -> None:
    if job.state != "success":
        raise RuntimeError(f"{what}: job {job.id} ended {job.state}: {job.reason}")


# ---------------------------------------------------------------------------------------- 1. trigger


@dataclass(frozen=True)
class Trigger:
    to_created_ms: tuple[float, ...]
    to_running_ms: tuple[float, ...]
    floor_ms: tuple[float, ...]  # commit.finished written → received here: the bus itself


def _trigger(ctx: Context) -> Trigger:
    n = _sizes(ctx).trigger_commits
    with rig(ctx) as r:
        repo = r.repo("bench-trigger-in")
        pipe = r.pipeline(_spec("bench-trigger", repo, ["date", "+%s.%N"]))
        rows: list[tuple[Seen, Seen]] = []
        for i in range(WARMUP + n):
            put = r.client.put_file(repo, "master", "/f.txt", f"{i}\n".encode())
            fin = r.tap.wait_for("commit.finished", _field("commit", put.commit.id), 60)
            created, _ = r.job_of(pipe, put.commit.id, timeout=120)
            if i >= WARMUP:
                rows.append((fin, created))
        started: dict[str, float] = {}
        for line in r.client.logs(pipe):
            if line.stream == "stdout":
                started[line.job] = float(line.message)
    missing = [c.data["job"] for _, c in rows if c.data["job"] not in started]
    if missing:
        raise RuntimeError(f"{len(missing)} job(s) have no transform start time in their logs")
    return Trigger(
        to_created_ms=tuple((c.at - f.at) * 1000 for f, c in rows),
        to_running_ms=tuple((started[c.data["job"]] - f.at) * 1000 for f, c in rows),
        floor_ms=tuple((f.received - f.at) * 1000 for f, _ in rows),
    )


def run_trigger(ctx: Context) -> Iterator[Row]:
    got = ctx.attempt(lambda: _trigger(ctx))
    t = got.value
    note = (f"{len(t.to_created_ms)} single-file commits, each waited for; ref: commit.finished written → "
            "delivered to a NATS subscriber" if t else got.error)
    goals = {"p50": at_most(TRIGGER_P50_MS, "value", f"≤ {TRIGGER_P50_MS:g} ms"),
             "p99": at_most(TRIGGER_P99_MS, "value", f"≤ {TRIGGER_P99_MS:g} ms")}
    for what, field in (("job.created", "to_created_ms"), ("first datum running", "to_running_ms")):
        for q, qv in (("p50", 0.5), ("p99", 0.99)):
            value = _q(getattr(t, field), qv) if t else None
            floor = _q(t.floor_ms, qv) if t else None
            yield Row(NAME_TRIGGER, f"commit finished → {what} {q}", "ms", value, f"event bus {q}", floor,
                      goals[q], note, extra={"samples_ms": list(getattr(t, field))} if t else {})


# ---------------------------------------------------------------------------------------- 2. datums/s


@dataclass(frozen=True)
class Rate:
    datums: int
    job_seconds: float
    datum_phase_seconds: float  # first to last datum.done event

    @property
    def per_second(self) -> float:
        return self.datums / self.job_seconds


def _tusk_rate(ctx: Context) -> Rate:
    n = _sizes(ctx).rate_datums
    with rig(ctx) as r:
        repo = r.repo("bench-datums-in")
        pipe = r.pipeline(_spec("bench-datums", repo, COPY))
        job = r.run_job(pipe, repo, _files(n, seed=21))
        _check_success(job, "datums")
        if job.counts.processed != n:
            raise RuntimeError(f"the job processed {job.counts.processed} datums, not {n}")
        done = sorted(e.at for e in r.tap.events if e.kind == "datum.done" and e.data["job"] == job.id)
    return Rate(n, _wall(job), done[-1] - done[0] if len(done) > 1 else 0.0)


def _spawn_rate(ctx: Context) -> float:
    """The same `cp` of a 1 KiB file, one process after another, from Python (subprocess, no sandbox)."""
    n = _sizes(ctx).rate_datums
    root = ctx.work.scratch(NAME_DATUMS)
    src, dst = root / "in", root / "out"
    src.mkdir(parents=True, exist_ok=True)
    dst.mkdir(parents=True, exist_ok=True)
    paths = []
    for path, data in _files(n, seed=21):
        (src / path[1:]).write_bytes(data)
        paths.append(str(src / path[1:]))
    t0 = time.perf_counter()
    for p in paths:
        subprocess.run(["cp", "-r", p, str(dst) + "/"], check=True)
    return n / (time.perf_counter() - t0)


def run_datums(ctx: Context) -> Iterator[Row]:
    n = _sizes(ctx).rate_datums
    tusk = ctx.attempt(lambda: _tusk_rate(ctx))
    ref = ctx.attempt(lambda: _spawn_rate(ctx))
    t = tusk.value
    note = tusk.error or ref.error
    if t is not None:
        phase = (n - 1) / t.datum_phase_seconds if t.datum_phase_seconds else 0.0
        note = notes(f"job of {n:,} datums: {t.job_seconds:.1f} s created → finished; datum phase alone "
                     f"{phase:.0f} datums/s", note)
    yield Row(NAME_DATUMS, f"trivial datums (cp 1 KiB), 1 worker, {n:,} datums", "datums/s",
              t.per_second if t else None, "cp spawned by subprocess.run", ref.value, at_least(RATE_GOAL), note)


# ---------------------------------------------------------------------------------------- 3. scale-out


def _scale_one(ctx: Context, workers: int) -> float:
    """Seconds of a job of `scale_datums` datums of `sleep 0.05` with `workers` worker processes (one slot each)."""
    s = _sizes(ctx)
    with rig(ctx) as r, ExtraWorkers(r.stack, workers - 1, ctx.log):
        repo = r.repo(f"bench-scale-{workers}w-in")
        pipe = r.pipeline(_spec(f"bench-scale-{workers}w", repo, ["sleep", f"{SLEEP:g}"],
                                parallelism=s.scale_workers), pulling=workers)
        job = r.run_job(pipe, repo, _files(s.scale_datums, seed=31))
        _check_success(job, "scale")
        ctx.log(f"{NAME_SCALE}: {workers} worker(s): {_wall(job):.1f} s")
        return _wall(job)


def run_scale(ctx: Context) -> Iterator[Row]:
    s = _sizes(ctx)
    one = ctx.attempt(lambda: _scale_one(ctx, 1))
    many = ctx.attempt(lambda: _scale_one(ctx, s.scale_workers))
    rate = {k: (s.scale_datums / o.value if o.value else None) for k, o in (("one", one), ("many", many))}
    ideal = 1 / SLEEP
    yield Row(NAME_SCALE, f"{s.scale_datums:,} datums of sleep {SLEEP:g}, 1 worker", "datums/s", rate["one"],
              f"sleep alone ({ideal:g}/s)", ideal, None, one.error)
    yield Row(NAME_SCALE, f"{s.scale_datums:,} datums of sleep {SLEEP:g}, {s.scale_workers} workers", "datums/s",
              rate["many"], "1 worker", rate["one"], at_least(SPEEDUP_GOAL, text=f"speed-up ≥ {SPEEDUP_GOAL:g}x"),
              many.error or one.error or f"parallelism {s.scale_workers}; concurrency 1 per worker process")


# ---------------------------------------------------------------------------------------- 4. incremental


class WrongDatums(AssertionError):
    """The incremental job did not run exactly the changed datums: a correctness failure, not a figure."""


@dataclass(frozen=True)
class Incremental:
    first: Any
    second: Any


def _incremental(ctx: Context) -> Incremental:
    n = _sizes(ctx).incr_files
    with rig(ctx) as r:
        repo = r.repo("bench-incr-in")
        pipe = r.pipeline(_spec("bench-incr", repo, COPY))
        first = r.run_job(pipe, repo, _files(n, seed=41))
        _check_success(first, "first job")
        ctx.log(f"{NAME_INCR}: first job: {first.counts.processed:,} datums in {_wall(first):.1f} s")
        rng = random.Random(42)
        changed = [(f"/f{i:06d}.bin", rng.randbytes(SMALL)) for i in rng.sample(range(n), INCR_CHANGED)]
        second = r.run_job(pipe, repo, changed + _files(INCR_ADDED, seed=43, start=n))
        _check_success(second, "second job")
    return Incremental(first, second)


def run_incremental(ctx: Context) -> Iterator[Row]:
    n = _sizes(ctx).incr_files
    got = ctx.attempt(lambda: _incremental(ctx))
    want_run, want_skip = INCR_ADDED + INCR_CHANGED, n - INCR_CHANGED
    exact = {k: Goal(f"= {v:,}", (Check("value", ">=", v), Check("value", "<=", v)))
             for k, v in (("run", want_run), ("skip", want_skip))}
    inc = got.value
    c = inc.second.counts if inc else None
    yield Row(NAME_INCR, f"+{INCR_ADDED} files, {INCR_CHANGED} changed of {n:,}: datums run", "datums",
              c.processed if c else None, "expected", want_run, exact["run"], got.error)
    yield Row(NAME_INCR, f"+{INCR_ADDED} files, {INCR_CHANGED} changed of {n:,}: datums skipped", "datums",
              c.skipped if c else None, "expected", want_skip, exact["skip"], got.error)
    yield Row(NAME_INCR, "wall time of that job", "s", _wall(inc.second) if inc else None,
              f"first job ({n:,} datums)", _wall(inc.first) if inc else None, at_most(INCR_TIME_GOAL),
              got.error or (f"job created → finished (scheduler's timestamps); planned in {_planning(inc.second):.2f} s"
                            if inc else ""))
    if c is not None and (c.processed, c.skipped, c.total, c.failed) != (want_run, want_skip, n + INCR_ADDED, 0):
        raise WrongDatums(f"the incremental job ran {c.processed} and skipped {c.skipped} of {c.total} datums "
                          f"({c.failed} failed); expected exactly {want_run} run and {want_skip} skipped of "
                          f"{n + INCR_ADDED}")


# ---------------------------------------------------------------------------------------- 5. commit stream


@dataclass(frozen=True)
class Stream:
    commits: int
    commit_seconds: float  # the client's commits, back to back
    total_seconds: float  # first commit sent → last job.finished
    states: dict[str, int]


def _stream(ctx: Context) -> Stream:
    n = _sizes(ctx).stream_commits
    with rig(ctx) as r:
        repo = r.repo("bench-stream-in")
        pipe = r.pipeline(_spec("bench-stream", repo, COPY))
        ids: set[str] = set()
        t0 = time.time()
        for path, data in _files(n, seed=51):
            ids.add(r.client.put_file(repo, "master", path, data).commit.id)
        commit_seconds = time.time() - t0
        ctx.log(f"{NAME_STREAM}: {n} commits in {commit_seconds:.1f} s; waiting for their jobs")
        timeout = max(600.0, n * 2.0)
        ours = lambda d: d["pipeline"] == pipe and d.get("trigger_commit") in ids  # noqa: E731
        created = r.tap.wait_count("job.created", ours, n, timeout)
        if created < n:
            raise RuntimeError(f"only {created} of {n} commits made a job within {timeout:g} s")
        jobs = {e.data["job"] for e in r.tap.events if e.kind == "job.created" and ours(e.data)}
        r.tap.wait_count("job.finished", lambda d: d["job"] in jobs, n, timeout)
        finished = [e for e in r.tap.events if e.kind == "job.finished" and e.data["job"] in jobs]
        states: dict[str, int] = {}
        for e in finished:
            states[e.data["state"]] = states.get(e.data["state"], 0) + 1
        if len(finished) < n:
            raise RuntimeError(f"only {len(finished)} of {n} jobs finished within {timeout:g} s: {states}")
        return Stream(n, commit_seconds, max(e.at for e in finished) - t0, states)


def run_stream(ctx: Context) -> Iterator[Row]:
    n = _sizes(ctx).stream_commits
    got = ctx.attempt(lambda: _stream(ctx))
    s = got.value
    ok = bool(s and s.states.get("success") == s.commits)
    note = got.error
    if s is not None:
        note = f"{s.states.get('success', 0)}/{n} jobs succeeded" + ("" if ok else f" — NOT ALL: {s.states}")
    extra = {"states": s.states, "total_seconds": s.total_seconds, "commit_seconds": s.commit_seconds} if s else {}
    yield Row(NAME_STREAM, f"{n:,} single-file commits in a row: first commit → last job finished", "s",
              s.total_seconds if s else None, "the commits alone", s.commit_seconds if s else None, None, note,
              extra=extra)
    yield Row(NAME_STREAM, f"{n:,} single-file commits in a row: jobs done", "jobs/s",
              n / s.total_seconds if s else None, "commit rate", n / s.commit_seconds if s else None, None, note)
    if s and not ok:
        raise RuntimeError(f"not every job succeeded: {s.states}")


NAME_TRIGGER, NAME_DATUMS, NAME_SCALE, NAME_INCR, NAME_STREAM = (
    "pipe-trigger", "pipe-datums", "pipe-scale", "pipe-incremental", "pipe-commits")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(NAME_TRIGGER, "commit finished → job.created / first datum running, p50 and p99", run_trigger),
    Scenario(NAME_DATUMS, "trivial datums (cp of 1 KiB) per second on one worker vs spawning cp", run_datums),
    Scenario(NAME_SCALE, "datums of sleep 0.05 on 1 vs 4 worker processes: speed-up", run_scale),
    Scenario(NAME_INCR, "add 10 and change 5 of 10,000 files: exactly 15 datums run, time vs first job",
             run_incremental),
    Scenario(NAME_STREAM, "1,000 single-file commits in a row: every job done, jobs/s", run_stream),
)
