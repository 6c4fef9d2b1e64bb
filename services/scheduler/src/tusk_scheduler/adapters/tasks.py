"""Datum tasks on the `TUSK_DATUMS` work queue: one durable consumer per pipeline, shared by workers.

Each message is a datum set (`DatumSetTask`), whose datums a worker runs one after another. The
consumer's `max_ack_pending` is the pipeline's parallelism, so JetStream itself bounds how many of
its datums run at once across every worker process; `ack_wait` is how long a worker may go silent
(workers heartbeat with `in_progress`) before a task is redelivered.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tusk_common.bus import Bus
from tusk_common.errors import Unavailable
from tusk_common.subjects import DATUMS_STREAM
from tusk_common.tracing import carried
from tusk_common.wire.pipelines import DatumSetTask, task_subject, worker_consumer


class TaskQueue:
    def __init__(self, bus: Bus, *, ack_wait: float) -> None:
        self._bus = bus
        self._ack_wait = ack_wait

    async def ensure_consumer(self, pipeline: str, parallelism: int) -> None:
        config = ConsumerConfig(
            durable_name=worker_consumer(pipeline),
            filter_subject=task_subject(pipeline),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=max(1, parallelism),
            ack_wait=self._ack_wait,
            max_deliver=-1,
        )
        try:
            await self._bus.js.add_consumer(DATUMS_STREAM, config)
        except nats.js.errors.BadRequestError:
            # An existing consumer with another config: replace it (no task is lost: they stay in the stream).
            await self._bus.js.delete_consumer(DATUMS_STREAM, worker_consumer(pipeline))
            await self._bus.js.add_consumer(DATUMS_STREAM, config)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise Unavailable(f"JetStream did not create the consumer of {pipeline}: {exc}") from exc

    async def drop(self, pipeline: str) -> None:
        """Delete the pipeline's consumer and every task still queued for it."""
        try:
            await self._bus.js.delete_consumer(DATUMS_STREAM, worker_consumer(pipeline))
        except nats.js.errors.NotFoundError:
            pass
        await self._bus.js.purge_stream(DATUMS_STREAM, subject=task_subject(pipeline))

    async def publish(self, sets: Sequence[tuple[DatumSetTask, bytes]]) -> None:
        """Publish datum sets (with their encoded bodies) concurrently, each acknowledged by JetStream.
        A set's message id names its datums and their generations, so sending the same set again (a
        step repeated after a crash) is dropped as a duplicate. They carry the current trace context
        (the job step's), which the worker's span continues."""
        headers = carried()

        async def one(task: DatumSetTask, body: bytes) -> None:
            await self._bus.publish(task_subject(task.pipeline), body, msg_id=set_message_id(task), headers=headers)

        for start in range(0, len(sets), 256):
            await asyncio.gather(*(one(t, b) for t, b in sets[start : start + 256]))


def set_message_id(task: DatumSetTask) -> str:
    names = "|".join(f"{d.datum_id}.{d.generation}" for d in task.datums)
    if len(task.datums) == 1:
        return f"{task.job}.{names}"
    return f"{task.job}.set.{len(task.datums)}.{hashlib.sha256(names.encode()).hexdigest()[:32]}"
