"""Durable JetStream consumers of the scheduler: `commit.finished`, and `datum.done` / `datum.failed`."""

from __future__ import annotations

from tusk_common.bus import BatchHandler, EventHandler, Received
from tusk_common.events import CloudEvent, CommitFinished, DatumDone, DatumFailed, parse_event
from tusk_scheduler import datums, jobs
from tusk_scheduler.deps import Deps

COMMITS_DURABLE = "tusk-scheduler-commits"
DATUMS_DURABLE = "tusk-scheduler-datums"


def on_commit(deps: Deps) -> EventHandler:
    async def handle(ce: CloudEvent) -> None:
        ev = parse_event(ce)
        assert isinstance(ev, CommitFinished)
        for name in await jobs.on_commit_finished(deps, ev, ce.time):
            deps.kick(name)

    return handle


def on_datum(deps: Deps) -> EventHandler:
    async def handle(ce: CloudEvent) -> None:
        ev = parse_event(ce)
        if isinstance(ev, DatumDone | DatumFailed):
            await datums.on_datum_result(deps, ev)

    return handle


def on_datums(deps: Deps) -> BatchHandler:
    async def handle(batch: list[Received]) -> None:
        await datums.on_datum_results(deps, batch)

    return handle
