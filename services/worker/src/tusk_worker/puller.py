"""Pull loops: one per pipeline consumer on `TUSK_DATUMS`, all sharing this worker's concurrency.

Pipelines are found by listing the stream's consumers (`tusk-worker-<pipeline>`), again on every
`pipeline.*` event and every `refresh_interval`. A loop fetches only while a slot is free, so an idle
pipeline never holds a slot another one could use.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors
import nats.js.errors
import structlog

from tusk_common.bus import Bus
from tusk_common.subjects import DATUMS_STREAM, event_subject
from tusk_common.wire.pipelines import WORKER_CONSUMER_PREFIX
from tusk_worker.executor import Executor
from tusk_worker.settings import WorkerSettings
from tusk_worker.tracing import set_span

log = structlog.get_logger(__name__)


class Puller:
    def __init__(self, bus: Bus, executor: Executor, settings: WorkerSettings) -> None:
        self.bus = bus
        self.executor = executor
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._freed = asyncio.Event()
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._refresh = asyncio.Event()

    @property
    def busy(self) -> int:
        return len(self._running)

    async def run(self, stopping: asyncio.Event) -> None:
        async def on_pipeline_event(_msg: Any) -> None:
            self._refresh.set()

        sub = await self.bus.nc.subscribe(event_subject("pipeline.>"), cb=on_pipeline_event)
        try:
            while not stopping.is_set():
                self._refresh.clear()  # before the look, so a pipeline event during it is not lost
                try:
                    await self._sync(stopping)
                except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
                    log.warning("puller.refresh_failed", error=str(exc))
                waiters = {asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(self._refresh.wait())}
                await asyncio.wait(waiters, timeout=self.settings.refresh_interval,
                                   return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                for w in waiters:
                    w.cancel()
        finally:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass
            await self._stop_loops()
            await self._drain()

    async def _sync(self, stopping: asyncio.Event) -> None:
        infos = await self.bus.consumers(DATUMS_STREAM)  # all pages: more than 256 pipelines
        present = {}
        for info in infos:
            name = info.name or info.config.durable_name or ""
            if name.startswith(WORKER_CONSUMER_PREFIX):
                present[name] = float(info.config.ack_wait or 30.0)
        for name, ack_wait in present.items():
            if name not in self._loops or self._loops[name].done():
                self._loops[name] = asyncio.create_task(self._pull(name, ack_wait, stopping), name=f"pull-{name}")
        for name in [n for n in self._loops if n not in present]:
            self._loops.pop(name).cancel()

    async def _pull(self, durable: str, ack_wait: float, stopping: asyncio.Event) -> None:
        try:
            sub = await self.bus.js.pull_subscribe_bind(durable, stream=DATUMS_STREAM)
        except (nats.js.errors.NotFoundError, nats.errors.Error) as exc:
            log.warning("puller.bind_failed", consumer=durable, error=str(exc))
            return
        try:
            while not stopping.is_set():
                while self._slots.locked():
                    self._freed.clear()
                    await self._freed.wait()
                try:
                    msgs = await sub.fetch(1, timeout=1.0)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                except nats.js.errors.NotFoundError:
                    return  # the pipeline was deleted
                except (nats.errors.ConnectionClosedError, nats.js.errors.ServiceUnavailableError,
                        nats.js.errors.APIError) as exc:  # fmt: skip
                    log.warning("puller.fetch_failed", consumer=durable, error=str(exc))
                    await asyncio.sleep(1.0)
                    continue
                for msg in msgs:
                    await self._slots.acquire()
                    task = asyncio.create_task(self._handle(msg, ack_wait))
                    self._running.add(task)
                    task.add_done_callback(self._done)
        finally:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass

    async def _handle(self, msg: Any, ack_wait: float) -> None:
        try:
            with set_span(msg):
                await self.executor.handle(msg, ack_wait)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("datum.crashed")
            try:
                await msg.nak(delay=1.0)
            except Exception:
                pass

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._slots.release()
        self._freed.set()

    async def _stop_loops(self) -> None:
        loops = list(self._loops.values())
        for t in loops:
            t.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        self._loops.clear()

    async def _drain(self) -> None:
        """Give running datums the grace period, then stop them (their tasks are nak'ed)."""
        if not self._running:
            return
        _, pending = await asyncio.wait(list(self._running), timeout=self.settings.ops.shutdown_grace * 0.8)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
