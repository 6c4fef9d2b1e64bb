"""A whole pipeline stack for the end-to-end tests: versioning, scheduler and worker services on a real
NATS and Postgres (in-process, or as OS processes for the SIGKILL tests), and a client to drive them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tusk_common.bus import Bus
from tusk_common.errors import NotFound
from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import ServiceSettings
from tusk_common.store import ChunkStore, open_object_store
from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v
from tusk_common.wire.base import Request
from tusk_scheduler.app import Scheduler
from tusk_scheduler.app import build as build_scheduler
from tusk_scheduler.settings import SchedulerSettings
from tusk_versioning.app import build as build_versioning
from tusk_versioning.settings import VersioningSettings
from tusk_worker.app import build as build_worker
from tusk_worker.settings import WorkerSettings

SECRET_KEY = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
SCHEDULER_FAST = {
    "datum_ack_wait": 3.0, "sweep_interval": 0.3, "wait_poll_interval": 0.05, "cron_interval": 0.2,
    "secret_key": SECRET_KEY,
}  # fmt: skip
WORKER_FAST = {"concurrency": 4, "refresh_interval": 0.3, "log_flush_interval": 0.05}


def flat_env(settings: ServiceSettings, prefix: str, own: Mapping[str, Any]) -> dict[str, str]:
    """Environment variables that make a service process use the same servers as `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUSK_")}
    env.update({
        "TUSK_NATS_URL": settings.nats.url,
        "TUSK_DATABASE_URL": settings.database.url.get_secret_value(),
        "TUSK_STORE_BACKEND": settings.store.backend, "TUSK_STORE_PATH": settings.store.path,
        "TUSK_LOG_LEVEL": "warning", "TUSK_LOG_FORMAT": "console", "TUSK_SHUTDOWN_GRACE": "2",
    })  # fmt: skip
    for key, value in own.items():
        env[f"{prefix}{key.upper()}" if key != "secret_key" else "TUSK_SECRET_KEY"] = str(value)
    return env


@dataclass
class Stack:
    base: ServiceSettings
    tmp: Path
    bus: Bus
    store: ChunkStore
    exits: contextlib.AsyncExitStack
    schedulers: list[Scheduler] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    # -------------------------------------------------------------- services

    async def start_versioning(self) -> None:
        settings = VersioningSettings.model_validate({**self.base.model_dump(), "wait_poll_interval": 0.2})

        async def build(ctx: ServiceContext) -> None:
            await build_versioning(ctx)

        await self.exits.enter_async_context(running_service("versioning", settings, build))

    def scheduler_settings(self, **over: Any) -> SchedulerSettings:
        return SchedulerSettings.model_validate({**self.base.model_dump(), **SCHEDULER_FAST, **over})

    @contextlib.asynccontextmanager
    async def scheduler(self, **over: Any) -> AsyncIterator[Scheduler]:
        made: list[Scheduler] = []

        async def build(ctx: ServiceContext) -> None:
            made.append(await build_scheduler(ctx))

        async with running_service("scheduler", self.scheduler_settings(**over), build):
            self.schedulers.append(made[0])
            try:
                yield made[0]
            finally:
                self.schedulers.remove(made[0])

    async def start_scheduler(self, **over: Any) -> Scheduler:
        return await self.exits.enter_async_context(self.scheduler(**over))

    def worker_settings(self, **over: Any) -> WorkerSettings:
        return WorkerSettings.model_validate({**self.base.model_dump(), **WORKER_FAST,
                                              "scratch_dir": str(self.tmp / "scratch"), **over})  # fmt: skip

    @contextlib.asynccontextmanager
    async def worker(self, **over: Any) -> AsyncIterator[None]:
        async def build(ctx: ServiceContext) -> None:
            await build_worker(ctx)

        async with running_service("worker", self.worker_settings(**over), build):
            yield

    async def start_worker(self, **over: Any) -> None:
        await self.exits.enter_async_context(self.worker(**over))

    def spawn(self, module: str, prefix: str, own: Mapping[str, Any]) -> subprocess.Popen[bytes]:
        """A service as its own OS process (for SIGKILL)."""
        with open(self.tmp / f"{module}-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", module], env=flat_env(self.base, prefix, own),
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.procs.append(proc)
        return proc

    def spawn_worker(self, **own: Any) -> subprocess.Popen[bytes]:
        return self.spawn("tusk_worker", "TUSK_WORKER_", {**WORKER_FAST, "scratch_dir": str(self.tmp / "scratch"),
                                                         **own})  # fmt: skip

    def spawn_scheduler(self, **own: Any) -> subprocess.Popen[bytes]:
        return self.spawn("tusk_scheduler", "TUSK_SCHEDULER_", {**SCHEDULER_FAST, **own})

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    # -------------------------------------------------------------- client

    async def call(self, req: Request, **kw: Any) -> Any:
        return await self.bus.request(req, **kw)

    async def repo(self, name: str) -> None:
        await self.call(v.CreateRepo(name=name))

    async def content(self, data: str | bytes) -> v.FileContent:
        return await self.store.write_bytes(data.encode() if isinstance(data, str) else data)

    async def put(self, repo: str, files: Mapping[str, str | bytes | None], branch: str = "master") -> v.CommitInfo:
        """One commit: put each file (None deletes it)."""
        changes = []
        for path, data in files.items():
            if data is None:
                changes.append(v.FileChange(op="delete", path=path))
            else:
                changes.append(v.FileChange(op="put", path=path, content=await self.content(data)))
        res = await self.call(v.PutFiles(repo=repo, ref=branch, changes=changes))
        return res.commit

    async def create(self, spec: dict[str, Any], **kw: Any) -> w.CreatePipelineReply:
        return await self.call(w.CreatePipeline(spec=spec, **kw))

    async def files(self, repo: str, ref: str = "master") -> dict[str, str]:
        """Every file of a commit with its text."""
        try:
            listing = await self.call(v.ListFiles(repo=repo, ref=ref, recursive=True, limit=10_000))
        except NotFound:
            return {}
        out = {}
        for f in listing.files:
            data = bytearray()
            async for block in self.store.read(f.content):
                data += block
            out[f.path] = data.decode()
        return out

    async def wait_set(self, commit: v.CommitInfo, within: float = 30.0) -> w.CommitSetStatus:
        status = await self.call(w.WaitCommitSet(commit_set=commit.commit_set, commit=commit.id, repo=commit.repo,
                                                 timeout=within), timeout=within + 5)  # fmt: skip
        assert status.done, f"commit set {commit.commit_set} did not finish: {status.jobs}"
        return status

    async def jobs(self, pipeline: str) -> list[w.JobInfo]:
        return (await self.call(w.ListJobs(pipeline=pipeline))).jobs

    async def wait_job(self, pipeline: str, job: str, within: float = 30.0) -> w.JobInfo:
        return await self.call(w.WaitJob(pipeline=pipeline, job=job, timeout=within), timeout=within + 5)

    async def last_job(self, pipeline: str, within: float = 30.0) -> w.JobInfo:
        jobs = await self.jobs(pipeline)
        assert jobs, f"{pipeline} has no job"
        return await self.wait_job(pipeline, jobs[0].id, within)

    async def eventually(self, check: Any, within: float = 20.0, every: float = 0.1) -> Any:
        deadline = time.monotonic() + within
        while True:
            try:
                result = await check()
                if result:
                    return result
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {within}s")
            await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def open_stack(base: ServiceSettings, tmp: Path) -> AsyncIterator[Stack]:
    async with contextlib.AsyncExitStack() as exits:
        backend = await open_object_store(base.store, base.s3)
        exits.push_async_callback(backend.close)
        store = ChunkStore(backend, base.store)
        stack = Stack(base=base, tmp=tmp, bus=None, store=store, exits=exits)  # type: ignore[arg-type]
        try:
            await stack.start_versioning()
            bus = await Bus.connect(base.nats, name="test-client")
            exits.push_async_callback(bus.close)
            stack.bus = bus
            yield stack
        finally:
            for proc in stack.procs:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


def pipeline(name: str, input_: dict[str, Any], cmd: list[str], stdin: list[str] | None = None,
             **extra: Any) -> dict[str, Any]:  # fmt: skip
    transform: dict[str, Any] = {"cmd": cmd}
    if stdin is not None:
        transform["stdin"] = stdin
    transform.update(extra.pop("transform", {}))
    return {"pipeline": {"name": name}, "input": input_, "transform": transform, **extra}


def pfs(repo: str, glob: str, **extra: Any) -> dict[str, Any]:
    return {"pfs": {"repo": repo, "glob": glob, **extra}}
