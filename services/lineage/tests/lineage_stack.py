"""The stack of the lineage tests, in-process on a real NATS and Postgres: versioning, optionally the
scheduler and a worker, and the lineage service, which a test can stop and start again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tusk_common.bus import Bus
from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import ServiceSettings
from tusk_common.store import ChunkStore, open_object_store
from tusk_common.subjects import EVENTS_STREAM
from tusk_common.wire import lineage as wl
from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v
from tusk_common.wire.base import Request
from tusk_lineage.app import Lineage
from tusk_lineage.app import build as build_lineage
from tusk_lineage.settings import LineageSettings
from tusk_scheduler.app import build as build_scheduler
from tusk_scheduler.settings import SchedulerSettings
from tusk_versioning.app import build as build_versioning
from tusk_versioning.settings import VersioningSettings
from tusk_worker.app import build as build_worker
from tusk_worker.settings import WorkerSettings

# Small lists go by reference to the chunk store, so the tests read both forms: a datum's input files from
# the second one on (task, datum.done), its outputs always in datum.done, and in a datum listing after the
# first output file.
SCHEDULER_FAST = {"datum_ack_wait": 3.0, "sweep_interval": 0.3, "wait_poll_interval": 0.05, "cron_interval": 0.2,
                  "secret_key": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                  "inline_files": 1, "inline_outputs": 1}  # fmt: skip
WORKER_FAST = {"concurrency": 4, "refresh_interval": 0.3, "log_flush_interval": 0.05, "inline_outputs": 0}
LINEAGE_FAST = {"consume_retry_delay": 0.2, "ack_wait": 2.0}


@dataclass
class Stack:
    base: ServiceSettings
    tmp: Path
    bus: Bus
    store: ChunkStore
    exits: contextlib.AsyncExitStack
    lineage: Lineage | None = None
    _lineage_exit: contextlib.AsyncExitStack | None = None
    lineage_over: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ services

    async def start_versioning(self) -> None:
        settings = VersioningSettings.model_validate({**self.base.model_dump(), "wait_poll_interval": 0.2})

        async def build(ctx: ServiceContext) -> None:
            await build_versioning(ctx)

        await self.exits.enter_async_context(running_service("versioning", settings, build))

    async def start_pipelines(self) -> None:
        """The scheduler and one worker."""
        sched = SchedulerSettings.model_validate({**self.base.model_dump(), **SCHEDULER_FAST})
        work = WorkerSettings.model_validate({**self.base.model_dump(), **WORKER_FAST,
                                              "scratch_dir": str(self.tmp / "scratch")})  # fmt: skip

        async def b_sched(ctx: ServiceContext) -> None:
            await build_scheduler(ctx)

        async def b_work(ctx: ServiceContext) -> None:
            await build_worker(ctx)

        await self.exits.enter_async_context(running_service("scheduler", sched, b_sched))
        await self.exits.enter_async_context(running_service("worker", work, b_work))

    def lineage_settings(self, **over: Any) -> LineageSettings:
        return LineageSettings.model_validate({**self.base.model_dump(), **LINEAGE_FAST, **self.lineage_over, **over})

    async def start_lineage(self, **over: Any) -> Lineage:
        made: list[Lineage] = []

        async def build(ctx: ServiceContext) -> None:
            made.append(await build_lineage(ctx))

        exit_stack = contextlib.AsyncExitStack()
        await exit_stack.enter_async_context(running_service("lineage", self.lineage_settings(**over), build))
        self._lineage_exit = exit_stack
        self.lineage = made[0]
        return made[0]

    async def stop_lineage(self) -> None:
        if self._lineage_exit is not None:
            await self._lineage_exit.aclose()
        self._lineage_exit = None
        self.lineage = None

    # ------------------------------------------------------------ client

    async def call(self, req: Request, **kw: Any) -> Any:
        return await self.bus.request(req, **kw)

    async def repo(self, name: str) -> None:
        await self.call(v.CreateRepo(name=name))

    async def put(self, repo: str, files: Mapping[str, str | bytes | None], branch: str = "master") -> v.CommitInfo:
        """One commit: put each file (None deletes it)."""
        changes = []
        for path, data in files.items():
            if data is None:
                changes.append(v.FileChange(op="delete", path=path))
            else:
                raw = data.encode() if isinstance(data, str) else data
                changes.append(v.FileChange(op="put", path=path, content=await self.store.write_bytes(raw)))
        return (await self.call(v.PutFiles(repo=repo, ref=branch, changes=changes))).commit

    async def create(self, spec: dict[str, Any], **kw: Any) -> w.CreatePipelineReply:
        return await self.call(w.CreatePipeline(spec=spec, **kw))

    async def wait_set(self, commit: v.CommitInfo, timeout: float = 30.0) -> w.CommitSetStatus:
        status = await self.call(w.WaitCommitSet(commit_set=commit.commit_set, commit=commit.id, repo=commit.repo,
                                                 timeout=timeout), timeout=timeout + 5)  # fmt: skip
        assert status.done, f"commit set {commit.commit_set} did not finish: {status.jobs}"
        return status

    async def head(self, repo: str, branch: str = "master") -> v.CommitInfo:
        return await self.call(v.InspectCommit(repo=repo, ref=branch))

    async def content_id(self, repo: str, ref: str, path: str) -> str:
        info = await self.call(v.InspectFile(repo=repo, ref=ref, path=path))
        assert info.content is not None
        return info.content.id

    async def lineage_of(self, repo: str, ref: str, path: str | None = None, direction: str = "upstream",
                         depth: int = 10, fmt: str = "json") -> wl.LineageReply:  # fmt: skip
        return await self.call(wl.QueryLineage(repo=repo, ref=ref, path=path, direction=direction, depth=depth,
                                               format=fmt))  # fmt: skip

    async def caught_up(self, timeout: float = 30.0) -> wl.LineageStats:
        """Wait until the lineage consumer has acked every event and attached every finished job."""
        durable = self.lineage_settings().durable
        deadline = time.monotonic() + timeout
        while True:
            info = await self.bus.js.consumer_info(EVENTS_STREAM, durable)
            stats = await self.call(wl.GetStats())
            if info.num_pending == 0 and info.num_ack_pending == 0 and stats.pending_jobs == 0:
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"lineage did not catch up: {info.num_pending} pending, {stats}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def open_stack(base: ServiceSettings, tmp: Path, *, pipelines: bool = True) -> AsyncIterator[Stack]:
    async with contextlib.AsyncExitStack() as exits:
        backend = await open_object_store(base.store, base.s3)
        exits.push_async_callback(backend.close)
        stack = Stack(base=base, tmp=tmp, bus=None, store=ChunkStore(backend, base.store), exits=exits)  # type: ignore[arg-type]
        await stack.start_versioning()
        if pipelines:
            await stack.start_pipelines()
        bus = await Bus.connect(base.nats, name="test-client")
        exits.push_async_callback(bus.close)
        stack.bus = bus
        try:
            yield stack
        finally:
            await stack.stop_lineage()


def pipeline(name: str, input_: dict[str, Any], script: str) -> dict[str, Any]:
    return {"pipeline": {"name": name}, "input": input_, "transform": {"cmd": ["sh"], "stdin": [script]}}


def pfs(repo: str, glob: str, **extra: Any) -> dict[str, Any]:
    return {"pfs": {"repo": repo, "glob": glob, **extra}}


def files_at(reply: wl.LineageReply, depth: int | None = None) -> set[tuple[str, str, str]]:
    """(repo, commit, path) of the file nodes of an answer (at one node depth, or all)."""
    return {(n.repo or "", n.commit or "", n.path or "") for n in reply.graph.nodes
            if n.kind == "file" and (depth is None or n.depth == depth)}  # fmt: skip
