"""Which jobs have finished (from `job.finished` on the bus): their queued tasks are dropped without
running, and their running datums are stopped."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict

import structlog
from nats.aio.msg import Msg

from tusk_common.bus import Bus
from tusk_common.events import JobFinished

log = structlog.get_logger(__name__)
REMEMBERED = 10_000
JOB_ENDED = "job ended"


class FinishedJobs:
    def __init__(self) -> None:
        self._done: OrderedDict[str, None] = OrderedDict()
        self._running: dict[str, set[asyncio.Task[object]]] = {}
        self._sub: object | None = None

    async def start(self, bus: Bus) -> None:
        self._sub = await bus.nc.subscribe(JobFinished.subject(), cb=self._on_msg)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()  # type: ignore[attr-defined]
            except Exception:
                pass

    def finished(self, job: str) -> bool:
        return job in self._done

    def track(self, job: str, task: asyncio.Task[object]) -> None:
        self._running.setdefault(job, set()).add(task)
        task.add_done_callback(lambda t: self._untrack(job, t))

    def _untrack(self, job: str, task: asyncio.Task[object]) -> None:
        tasks = self._running.get(job)
        if tasks is not None:
            tasks.discard(task)
            if not tasks:
                del self._running[job]

    def mark(self, job: str) -> None:
        self._done[job] = None
        while len(self._done) > REMEMBERED:
            self._done.popitem(last=False)
        for task in list(self._running.get(job, ())):
            task.cancel(JOB_ENDED)

    async def _on_msg(self, msg: Msg) -> None:
        try:
            job = json.loads(msg.data)["data"]["job"]
        except (ValueError, KeyError, TypeError):
            return
        self.mark(str(job))
