"""The durable JetStream consumer of every event, feeding the projector."""

from __future__ import annotations

import asyncio

from tusk_common.bus import Bus
from tusk_lineage.projector import Projector
from tusk_lineage.settings import LineageSettings


async def consume(bus: Bus, projector: Projector, settings: LineageSettings, stopping: asyncio.Event) -> None:
    """Until `stopping`: every event on `TUSK_EVENTS`, from the first one the durable has not acked.

    Retryable failures (a service down, a fact that needs another first) are redelivered after
    `consume_retry_delay`, up to `consume_max_deliver` times, which covers a long outage; `rebuild`
    covers the rest. Each fetch is applied as a batch (see `Projector.apply_batch`); if the batch fails
    for any reason other than a retryable one, its events are applied one by one."""
    await bus.consume_event_batches(
        settings.durable, projector.apply_batch, projector.apply, stopping=stopping,
        max_ack_pending=settings.max_ack_pending, batch=settings.consume_batch, ack_wait=settings.ack_wait,
        max_deliver=settings.consume_max_deliver, retry_delay=settings.consume_retry_delay,
    )  # fmt: skip
