"""Composition root of the worker: NATS, the chunk store, the runner, the log shipper, the pull loops."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tusk_common.bus import Bus
from tusk_common.service import ServiceContext
from tusk_common.store import ChunkStore, StoreMetrics, open_object_store
from tusk_worker.executor import Executor, Tools
from tusk_worker.jobs import FinishedJobs
from tusk_worker.logship import LogShipper
from tusk_worker.metrics import WorkerMetrics
from tusk_worker.puller import Puller
from tusk_worker.runners import Runner, open_runner
from tusk_worker.settings import WorkerSettings

NAME = "worker"


@dataclass
class Worker:
    tools: Tools
    puller: Puller
    runner: Runner


async def build(ctx: ServiceContext) -> Worker:
    settings = ctx.settings
    if not isinstance(settings, WorkerSettings):
        settings = WorkerSettings.model_validate(settings.model_dump())
    name = settings.name or f"{socket.gethostname()}:{os.getpid()}"

    bus = await Bus.connect(settings.nats, name=ctx.name, registry=ctx.registry)
    ctx.stack.push_async_callback(bus.close)
    await bus.ensure_streams()

    backend = await open_object_store(settings.store, settings.s3)
    ctx.stack.push_async_callback(backend.close)
    store = ChunkStore(backend, settings.store, StoreMetrics(ctx.registry))

    if settings.scratch_dir:
        scratch = Path(settings.scratch_dir) / f"worker-{os.getpid()}"
        scratch.mkdir(parents=True, exist_ok=True)
    else:
        scratch = Path(tempfile.mkdtemp(prefix="tusk-worker-"))
    ctx.stack.callback(shutil.rmtree, scratch, True)
    runner = await open_runner(settings, scratch)
    ctx.stack.push_async_callback(runner.close)

    jobs = FinishedJobs()
    await jobs.start(bus)
    ctx.stack.push_async_callback(jobs.stop)
    shipper = LogShipper(bus, batch=settings.log_batch, buffer=settings.log_buffer,
                         interval=settings.log_flush_interval)  # fmt: skip
    tools = Tools(settings=settings, bus=bus, store=store, runner=runner, shipper=shipper, jobs=jobs, name=name)
    puller = Puller(bus, Executor(tools), settings)
    tools.metrics = WorkerMetrics(ctx.registry, slots=settings.concurrency, busy=lambda: puller.busy)
    ctx.spawn(shipper.run(ctx.stopping), name="log-shipper")
    ctx.spawn(puller.run(ctx.stopping), name="puller")

    async def nats_ready() -> None:
        if not bus.nc.is_connected:
            raise ConnectionError("not connected to NATS")

    ctx.add_readiness("nats", nats_ready)
    return Worker(tools, puller, runner)
