"""Datum spans: `datum <pipeline>` around one task, continuing the trace of the job step that sent it.

The task message's headers carry the job's `traceparent`; the span's children are the datum's steps
(`download`, `process` per run of the transform, `upload`) and the `publish datum.done` of its result,
whose consumer in the scheduler continues the same trace. Nothing is done with tracing off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

from opentelemetry import trace

from tusk_common.subjects import DATUMS_PREFIX
from tusk_common.tracing import recording, resumed, tracer
from tusk_common.wire.pipelines import DatumTask

T = TypeVar("T")


@contextlib.contextmanager
def datum_span(msg: Any) -> Iterator[None]:
    """The span of handling one task message (`tusk.datums.<pipeline>`), from its headers' context."""
    if not recording():
        yield
        return
    pipeline = msg.subject.removeprefix(f"{DATUMS_PREFIX}.")
    with tracer().start_as_current_span(
        f"datum {pipeline}", context=resumed(msg.headers), kind=trace.SpanKind.CONSUMER,
        attributes={"tusk.pipeline": pipeline},
    ):  # fmt: skip
        yield


def describe(task: DatumTask) -> None:
    """Name the job and datum on the current datum span (known once the task is parsed)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({"tusk.job": task.job, "tusk.datum": task.datum_id,
                             "tusk.generation": task.generation})  # fmt: skip


async def step(name: str, work: Awaitable[T]) -> T:
    """Await `work` inside a child span of the datum's (`download`, `process`, `upload`)."""
    if not recording():
        return await work
    with tracer().start_as_current_span(name):
        return await work
