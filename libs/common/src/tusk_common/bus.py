"""The NATS bus: connection, JetStream streams, event publishing, RPC over request/reply, durable consumers.

RPC replies are `{"ok": <reply model>}` or `{"error": {"code", "message", "details"}}`; the caller gets
the reply model or the same typed `TuskError` the handler raised. Trace context rides in NATS headers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from tusk_common.busmetrics import BusMetrics
from tusk_common.errors import Internal, Invalid, TuskError, Unavailable, from_wire
from tusk_common.events import CloudEvent, Event, envelope
from tusk_common.settings import NatsSettings
from tusk_common.subjects import (
    DATUMS_PREFIX,
    DATUMS_STREAM,
    EVENTS_PREFIX,
    EVENTS_STREAM,
    rpc_queue_group,
    rpc_subject,
)
from tusk_common.tracing import tracer
from tusk_common.wire.base import Request, Wire

log = structlog.get_logger(__name__)

Handler = Callable[[Any], Awaitable[Wire]]
_OK_PREFIX = b'{"ok":'  # every successful RPC reply starts so (see `_answer`)
EventHandler = Callable[[CloudEvent], Awaitable[None]]


@dataclass(frozen=True)
class Received:
    """An event of a batch, with the trace context of its `consume` span (attach it to continue its trace)."""

    event: CloudEvent
    context: otel_context.Context


# A batch handler may return the events (by id) that it could not apply: each is then redelivered later
# (a retryable error) or terminated, and the rest of the batch is acknowledged.
BatchHandler = Callable[[list[Received]], Awaitable[Mapping[str, TuskError] | None]]


CONSUMERS_PAGE = 256  # consumers JetStream lists per CONSUMER.LIST request
BIG_REPLY_ITEMS = 1000  # a reply holding a list longer than this is serialized off the event loop


async def _encode_ok(reply: Wire) -> bytes:
    """`{"ok": <reply>}`, written by pydantic's serializer (no dict tree, no json.dumps). A big reply (a
    page of thousands of entries takes tens of ms) is serialized in a thread: the GIL then changes
    hands every few ms, so the small requests behind it do not wait for all of it."""
    big = any(isinstance(v, list) and len(v) > BIG_REPLY_ITEMS for v in reply.__dict__.values())
    body = await asyncio.to_thread(reply.model_dump_json) if big else reply.model_dump_json()
    return _OK_PREFIX + body.encode() + b"}"


def validation_to_invalid(exc: ValidationError, prefix: str = "") -> Invalid:
    """The first pydantic error as an `Invalid` that names its field."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "body"
    if prefix:
        field = f"{prefix}.{field}"
    return Invalid(f"{field}: {err.get('msg', 'invalid value')}", field=field)


class Bus:
    """One NATS connection of one service process, with JetStream."""

    def __init__(
        self, nc: NatsClient, settings: NatsSettings, *, name: str, metrics: BusMetrics | None = None
    ) -> None:
        self.nc = nc
        self.metrics = metrics
        self.js = nc.jetstream()
        self.settings = settings
        self.name = name
        self._tasks: set[asyncio.Task[None]] = set()
        self._subs: list[Any] = []
        self._rpc_slots = asyncio.BoundedSemaphore(256)

    @classmethod
    async def connect(
        cls, settings: NatsSettings, *, name: str, registry: CollectorRegistry | None = None
    ) -> Bus:
        async def on_error(exc: Exception) -> None:
            log.warning("nats.error", error=str(exc))

        async def on_disconnect() -> None:
            log.warning("nats.disconnected")

        async def on_reconnect() -> None:
            log.info("nats.reconnected")

        try:
            nc = await nats.connect(
                settings.url,
                name=name,
                connect_timeout=settings.connect_timeout,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                allow_reconnect=True,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            )
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            raise Unavailable(f"cannot reach NATS at {settings.url}: {exc}") from exc
        return cls(nc, settings, name=name, metrics=BusMetrics(registry) if registry is not None else None)

    async def ensure_streams(self) -> None:
        """Declare TUSK_EVENTS and TUSK_DATUMS (idempotent; updates limits of existing streams)."""
        configs = [
            StreamConfig(
                name=EVENTS_STREAM,
                subjects=[f"{EVENTS_PREFIX}.>"],
                storage=StorageType.FILE,
                max_age=self.settings.events_max_age_days * 86400,
                max_bytes=self.settings.events_max_bytes,
                duplicate_window=120,
                num_replicas=self.settings.stream_replicas,
            ),
            StreamConfig(
                name=DATUMS_STREAM,
                subjects=[f"{DATUMS_PREFIX}.>"],
                storage=StorageType.FILE,
                retention=RetentionPolicy.WORK_QUEUE,
                duplicate_window=120,
                num_replicas=self.settings.stream_replicas,
            ),
        ]
        for cfg in configs:
            try:
                await self.js.add_stream(cfg)
            except nats.js.errors.BadRequestError:
                await self.js.update_stream(cfg)

    async def consumers(self, stream: str) -> list[ConsumerInfo]:
        """Every consumer of `stream` (JetStream answers a listing in pages of at most 256)."""
        infos: list[ConsumerInfo] = []
        while True:
            page = await self.js.consumers_info(stream, offset=len(infos) or None)
            infos.extend(page)
            if len(page) < CONSUMERS_PAGE:
                return infos

    # ------------------------------------------------------------------ publish

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        msg_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        """Publish to JetStream and wait for the stream's ack (de-duplicated by `msg_id`)."""
        hdrs = dict(headers or {})
        if msg_id:
            hdrs["Nats-Msg-Id"] = msg_id
        try:
            await self.js.publish(subject, payload, timeout=timeout, headers=hdrs or None)
            if self.metrics:
                self.metrics.published.labels(subject=subject).inc()
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.errors.ConnectionClosedError,
                nats.js.errors.ServiceUnavailableError, TimeoutError) as exc:
            raise Unavailable(f"JetStream did not acknowledge {subject}: {type(exc).__name__}") from exc

    async def publish_event(self, event: Event, *, source: str, event_id: str | None = None) -> str:
        """Publish directly (no outbox): for events whose loss a crash may tolerate."""
        ce = envelope(event, source=source, event_id=event_id)
        with tracer().start_as_current_span(f"publish {event.KIND}", kind=trace.SpanKind.PRODUCER):
            headers: dict[str, str] = {}
            propagate.inject(headers)
            await self.publish(event.subject(), ce.model_dump_json().encode(), msg_id=ce.id, headers=headers)
        return ce.id

    # ------------------------------------------------------------------ RPC

    async def request(self, req: Request, *, timeout: float | None = None) -> Any:
        """Call `req` on its service; returns `req.REPLY` or raises the remote typed error."""
        subject = rpc_subject(req.SERVICE, req.METHOD)
        with tracer().start_as_current_span(f"rpc {req.SERVICE}.{req.METHOD}", kind=trace.SpanKind.CLIENT):
            return await self._request(req, subject, timeout)

    async def _request(self, req: Request, subject: str, timeout: float | None) -> Any:
        headers: dict[str, str] = {}
        propagate.inject(headers)
        try:
            msg = await self.nc.request(
                subject,
                req.model_dump_json().encode(),
                timeout=timeout or self.settings.request_timeout,
                headers=headers or None,
            )
        except nats.errors.NoRespondersError as exc:
            raise Unavailable(f"no {req.SERVICE} service is running (no responder on {subject})") from exc
        except (nats.errors.TimeoutError, TimeoutError) as exc:
            raise Unavailable(f"{req.SERVICE} did not answer {req.METHOD} in time") from exc
        except nats.errors.ConnectionClosedError as exc:
            raise Unavailable("the NATS connection is closed") from exc
        data = msg.data
        if data.startswith(_OK_PREFIX) and data.endswith(b"}"):
            # The reply model is parsed straight from the bytes (pydantic's JSON parser, no dict tree).
            return req.REPLY.model_validate_json(data[len(_OK_PREFIX) : -1])
        body = json.loads(data)
        if "error" in body:
            raise from_wire(body["error"])
        return req.REPLY.model_validate(body["ok"])

    async def serve(self, handlers: Mapping[type[Request], Handler]) -> None:
        """Answer each request type on its subject, in the service's queue group, concurrently."""
        for req_type, handler in handlers.items():
            subject = rpc_subject(req_type.SERVICE, req_type.METHOD)
            cb = self._make_rpc_callback(req_type, handler)
            sub = await self.nc.subscribe(subject, queue=rpc_queue_group(req_type.SERVICE), cb=cb)
            self._subs.append(sub)
        # SUB is sent without an answer: the PING/PONG round trip makes the server know every subject
        # before the service calls itself ready, so no caller gets NoResponders from a service that is up.
        await self.nc.flush()

    def _make_rpc_callback(self, req_type: type[Request], handler: Handler) -> Callable[[Msg], Awaitable[None]]:
        async def on_msg(msg: Msg) -> None:
            # nats-py runs one subscription's callbacks one at a time; answer concurrently instead.
            await self._rpc_slots.acquire()
            task = asyncio.create_task(self._answer(req_type, handler, msg))
            self._tasks.add(task)
            task.add_done_callback(self._rpc_done)

        return on_msg

    def _rpc_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._rpc_slots.release()

    async def _answer(self, req_type: type[Request], handler: Handler, msg: Msg) -> None:
        ctx = propagate.extract(dict(msg.headers or {}))
        token = otel_context.attach(ctx)
        started = time.perf_counter()
        code = "ok"
        span = tracer().start_span(f"serve {req_type.SERVICE}.{req_type.METHOD}", kind=trace.SpanKind.SERVER)
        span_token = otel_context.attach(trace.set_span_in_context(span))
        try:
            error: dict[str, Any] | None = None
            try:
                req = req_type.model_validate_json(msg.data)
                reply = await handler(req)
                payload = await _encode_ok(reply)
            except ValidationError as exc:
                error = validation_to_invalid(exc).to_wire()
            except TuskError as exc:
                error = exc.to_wire()
            except Exception as exc:
                log.exception("rpc.failed", method=req_type.METHOD)
                error = Internal(f"{req_type.METHOD} failed: {type(exc).__name__}").to_wire()
            if error is not None:
                code = error["code"]
                payload = json.dumps({"error": error}, separators=(",", ":")).encode()
            if self.metrics:
                self.metrics.rpc_served.labels(req_type.SERVICE, req_type.METHOD, code).inc()
                self.metrics.rpc_seconds.labels(req_type.SERVICE, req_type.METHOD).observe(
                    time.perf_counter() - started
                )
            if msg.reply:
                await msg.respond(payload)
        except nats.errors.ConnectionClosedError:
            log.warning("rpc.reply_lost", method=req_type.METHOD)
        finally:
            span.set_attribute("tusk.rpc.code", code)
            span.end()
            otel_context.detach(span_token)
            otel_context.detach(token)

    # ------------------------------------------------------------------ consumers

    async def consume_events(
        self,
        durable: str,
        handler: EventHandler,
        *,
        kinds: list[str] | None = None,
        stopping: asyncio.Event,
        max_ack_pending: int = 256,
        batch: int = 64,
        ack_wait: float = 60.0,
        max_deliver: int = 20,
        retry_delay: float = 1.0,
    ) -> None:
        """Feed every event (or those of `kinds`) to `handler` through a durable pull consumer until
        `stopping` is set. Replicas using the same `durable` share the work. The handler must be
        idempotent: a retryable error naks for redelivery, any other error terminates the message.
        """
        sub = await self._bind_consumer(durable, kinds, max_ack_pending, ack_wait, max_deliver)
        try:
            while not stopping.is_set():
                for msg in await self._fetch(sub, durable, batch, retry_delay):
                    await self._handle_event(msg, handler, durable, retry_delay)
        finally:
            await sub.unsubscribe()

    async def consume_event_batches(
        self,
        durable: str,
        handle_batch: BatchHandler,
        handler: EventHandler,
        *,
        kinds: list[str] | None = None,
        stopping: asyncio.Event,
        max_ack_pending: int = 1024,
        batch: int = 128,
        ack_wait: float = 60.0,
        max_deliver: int = 20,
        retry_delay: float = 1.0,
    ) -> None:
        """As `consume_events`, but the events of each fetch (up to `batch`, all that are waiting) go to
        `handle_batch` at once, so a burst costs one transaction, not one each. One puller per process:
        several pullers fetching batches from one consumer hold each other's messages back. If the batch
        handler raises a retryable error the whole batch comes back later; any other error, and each event
        is handled alone by `handler`, so one bad event cannot hold back the others. The handler may also
        return the ids of the events it could not apply (with their errors) and settle the rest."""
        sub = await self._bind_consumer(durable, kinds, max_ack_pending, ack_wait, max_deliver)
        try:
            while not stopping.is_set():
                msgs = await self._fetch(sub, durable, batch, retry_delay)
                if msgs:
                    await self._handle_batch(msgs, handle_batch, handler, durable, retry_delay)
        finally:
            await sub.unsubscribe()

    async def _bind_consumer(self, durable: str, kinds: list[str] | None, max_ack_pending: int, ack_wait: float,
                             max_deliver: int) -> Any:  # fmt: skip
        filters = [f"{EVENTS_PREFIX}.{k}" for k in kinds] if kinds else [f"{EVENTS_PREFIX}.>"]
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=max_ack_pending,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            filter_subjects=filters if len(filters) > 1 else None,
            filter_subject=filters[0] if len(filters) == 1 else None,
        )
        try:
            await self.js.add_consumer(EVENTS_STREAM, config)
        except nats.js.errors.BadRequestError:
            pass  # exists with a compatible config
        return await self.js.pull_subscribe_bind(durable, stream=EVENTS_STREAM)

    async def _fetch(self, sub: Any, durable: str, batch: int, retry_delay: float) -> list[Msg]:
        try:
            return list(await sub.fetch(batch, timeout=1.0))
        except (nats.errors.TimeoutError, TimeoutError):
            return []
        except (nats.errors.ConnectionClosedError, nats.js.errors.ServiceUnavailableError) as exc:
            log.warning("consumer.fetch_failed", durable=durable, error=str(exc))
            await asyncio.sleep(retry_delay)
            return []

    async def _handle_batch(self, msgs: list[Msg], handle_batch: BatchHandler, handler: EventHandler, durable: str,
                            retry_delay: float) -> None:  # fmt: skip
        events: list[CloudEvent] = []
        good: list[Msg] = []
        for msg in msgs:
            try:
                events.append(CloudEvent.model_validate_json(msg.data))
                good.append(msg)
            except ValidationError:
                log.error("consumer.bad_event", durable=durable, subject=msg.subject)
                await msg.term()
        if not events:
            return
        # One `consume` span per event, each a child of its producer's: they cover the batch's work.
        spans = [tracer().start_span(f"consume {ce.type}", context=propagate.extract(dict(m.headers or {})),
                                     kind=trace.SpanKind.CONSUMER,
                                     attributes={"tusk.event.id": ce.id, "tusk.consumer": durable,
                                                 "tusk.batch": len(events)})
                 for ce, m in zip(events, good, strict=True)]  # fmt: skip
        received = [Received(ce, trace.set_span_in_context(sp)) for ce, sp in zip(events, spans, strict=True)]
        failed: Mapping[str, TuskError] = {}
        try:
            failed = await handle_batch(received) or {}
        except TuskError as exc:
            if exc.retryable:
                self._count(durable, "retry", len(good))
                log.warning("consumer.retry", durable=durable, events=len(good), error=exc.message)
                await asyncio.gather(*(m.nak(delay=retry_delay) for m in good))
                return
            log.warning("consumer.batch_rejected", durable=durable, events=len(good), error=exc.message)
            alone = True
        except Exception:
            log.exception("consumer.batch_failed", durable=durable, events=len(good))
            alone = True
        else:
            alone = False
        finally:
            for sp in spans:
                sp.end()
        if alone:  # each event on its own: one bad event cannot hold back the others
            for msg in good:
                await self._handle_event(msg, handler, durable, retry_delay)
            return
        settled = []
        for ce, m in zip(events, good, strict=True):
            err = failed.get(ce.id)
            if err is None:
                settled.append(m.ack())
            elif err.retryable:
                self._count(durable, "retry")
                log.warning("consumer.retry", durable=durable, event_id=ce.id, error=err.message)
                settled.append(m.nak(delay=retry_delay))
            else:
                self._count(durable, "rejected")
                log.error("consumer.rejected", durable=durable, event_id=ce.id, error=err.message)
                settled.append(m.term())
        if settled:
            await asyncio.gather(*settled)
            self._count(durable, "ok", len(good) - len(failed))

    async def _handle_event(self, msg: Msg, handler: EventHandler, durable: str, retry_delay: float) -> None:
        try:
            ce = CloudEvent.model_validate_json(msg.data)
        except ValidationError:
            log.error("consumer.bad_event", durable=durable, subject=msg.subject)
            await msg.term()
            return
        ctx = propagate.extract(dict(msg.headers or {}))
        token = otel_context.attach(ctx)
        span = tracer().start_span(f"consume {ce.type}", kind=trace.SpanKind.CONSUMER,
                                   attributes={"tusk.event.id": ce.id, "tusk.consumer": durable})
        span_token = otel_context.attach(trace.set_span_in_context(span))
        try:
            await handler(ce)
        except TuskError as exc:
            self._count(durable, "retry" if exc.retryable else "rejected")
            if exc.retryable:
                log.warning("consumer.retry", durable=durable, event_id=ce.id, error=exc.message)
                await msg.nak(delay=retry_delay)
            else:
                log.error("consumer.rejected", durable=durable, event_id=ce.id, error=exc.message)
                await msg.term()
            return
        except Exception:
            self._count(durable, "error")
            log.exception("consumer.failed", durable=durable, event_id=ce.id)
            await msg.nak(delay=retry_delay)
            return
        finally:
            span.end()
            otel_context.detach(span_token)
            otel_context.detach(token)
        await msg.ack()
        self._count(durable, "ok")

    def _count(self, durable: str, outcome: str, n: int = 1) -> None:
        if self.metrics:
            self.metrics.consumed.labels(consumer=durable, outcome=outcome).inc(n)

    async def close(self) -> None:
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass
        self._subs.clear()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if not self.nc.is_closed:
            try:
                await self.nc.drain()
            except (nats.errors.Error, TimeoutError):
                # draining needs a live connection (not one that is reconnecting): close outright
                await self.nc.close()
