"""Datum spans: `datum set <pipeline>` around one task message, continuing the trace of the job step that
sent it, and `datum <pipeline>` around each datum of the set.

The task message's headers carry the job's `traceparent`; a datum span's children are the datum's steps
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
from tusk_common.wire.pipelines import DatumSetTask, DatumTask

T = TypeVar("T")


@contextlib.contextmanager
def set_span(msg: Any) -> Iterator[None]:
    """The span of handling one task message (a datum set on `tusk.datums.<pipeline>`), from its headers."""
    if not recording():
        yield
        return
    pipeline = msg.subject.removeprefix(f"{DATUMS_PREFIX}.")
    with tracer().start_as_current_span(
        f"datum set {pipeline}", context=resumed(msg.headers), kind=trace.SpanKind.CONSUMER,
        attributes={"tusk.pipeline": pipeline},
    ):  # fmt: skip
        yield


@contextlib.contextmanager
def datum_span(task: DatumTask) -> Iterator[None]:
    """The span of one datum of the set (`datum <pipeline>`), a child of the set's."""
    if not recording():
        yield
        return
    with tracer().start_as_current_span(f"datum {task.pipeline}", attributes={
        "tusk.pipeline": task.pipeline, "tusk.job": task.job, "tusk.datum": task.datum_id,
        "tusk.generation": task.generation,
    }):  # fmt: skip
        yield


def describe(task: DatumSetTask) -> None:
    """Name the job and the set's size on the current set span (known once the message is parsed)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({"tusk.job": task.job, "tusk.datums": len(task.datums)})


async def step(name: str, work: Awaitable[T]) -> T:
    """Await `work` inside a child span of the datum's (`download`, `process`, `upload`)."""
    if not recording():
        return await work
    with tracer().start_as_current_span(name):
        return await work
