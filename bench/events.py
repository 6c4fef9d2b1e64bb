"""Tusk's events as any other system sees them: a NATS subscriber on `tusk.events.<kind>` (through
`tusk_common.bus.Bus`), run on its own thread so the synchronous scenarios can wait on it.

Each event is kept with two times: `at`, its CloudEvents `time` (when the service wrote the state change
the event announces: inside that transaction, through the outbox), and `received`, when this process got
it. Both are wall-clock times of this host, so they compare with each other and with a transform's clock.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.stack import TuskStack
from bench.toolbox import Unavailable

_CONNECT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Seen:
    kind: str  # "commit.finished", "job.created", ...
    at: float  # the event's CloudEvents time, epoch seconds
    received: float  # when this process got it, epoch seconds
    data: dict[str, Any]


def nats_url(stack: TuskStack) -> str:
    """The stack's NATS, from its `stack.json`."""
    try:
        doc = json.loads((stack.data_dir / "stack.json").read_text())
    except (OSError, ValueError) as e:
        raise Unavailable(f"cannot read the stack's stack.json: {e}") from e
    for comp in doc.get("components", []):
        if comp.get("name") == "nats" and comp.get("url"):
            return str(comp["url"])
    raise Unavailable("no NATS url in stack.json")


class EventTap:
    """Subscribes to some event kinds; `wait_for` blocks until a matching event has arrived."""

    def __init__(self, url: str, kinds: Iterable[str]) -> None:
        self.url = url
        self.kinds = tuple(kinds)
        self.events: list[Seen] = []
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bench-events", daemon=True)
        self._bus: Any = None

    def __enter__(self) -> EventTap:
        self._thread.start()
        try:
            self._call(self._connect(), _CONNECT_TIMEOUT)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self) -> None:
        from tusk_common.bus import Bus
        from tusk_common.settings import NatsSettings
        from tusk_common.subjects import event_subject

        self._bus = await Bus.connect(NatsSettings(url=self.url), name="tusk-bench")
        for kind in self.kinds:
            await self._bus.nc.subscribe(event_subject(kind), cb=self._on_msg)
        await self._bus.nc.flush()

    async def _on_msg(self, msg: Any) -> None:
        received = time.time()
        from tusk_common.events import CloudEvent

        ce = CloudEvent.model_validate_json(msg.data)
        kind = msg.subject.removeprefix("tusk.events.")
        seen = Seen(kind, ce.time.timestamp(), received, ce.data)
        with self._cond:
            self.events.append(seen)
            self._cond.notify_all()

    def close(self) -> None:
        if self._bus is not None and self._loop.is_running():
            if hasattr(self._bus.nc, "_disconnected_cb"):
                self._bus.nc._disconnected_cb = None  # our own close is not the warning the bus logs
            try:
                self._call(self._bus.close(), 10.0)
            except Exception:  # closing at the end of a scenario: nothing left to save
                pass
            self._bus = None
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)

    # ------------------------------------------------------------------ waiting

    def wait_for(self, kind: str, match: Callable[[dict[str, Any]], bool], timeout: float) -> Seen:
        """The first event of `kind` whose data satisfies `match` (already seen or still to come)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events:
                    if ev.kind == kind and match(ev.data):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {kind} event matched within {timeout:g} s")
                self._cond.wait(left)

    def count(self, kind: str, match: Callable[[dict[str, Any]], bool]) -> int:
        with self._cond:
            return sum(1 for ev in self.events if ev.kind == kind and match(ev.data))

    def wait_count(self, kind: str, match: Callable[[dict[str, Any]], bool], n: int, timeout: float) -> int:
        """Block until `n` events of `kind` match (or `timeout`); returns how many did."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = sum(1 for ev in self.events if ev.kind == kind and match(ev.data))
                left = deadline - time.monotonic()
                if got >= n or left <= 0:
                    return got
                self._cond.wait(min(left, 1.0))

    # ------------------------------------------------------------------ the datum queue

    def pulling_workers(self, pipeline: str) -> int:
        """Pull requests waiting on the pipeline's task consumer: one per idle worker slot that is bound."""
        from tusk_common.subjects import DATUMS_STREAM
        from tusk_common.wire.pipelines import worker_consumer

        async def ask() -> int:
            info = await self._bus.js.consumer_info(DATUMS_STREAM, worker_consumer(pipeline))
            return int(info.num_waiting or 0)

        return int(self._call(ask(), 10.0))
