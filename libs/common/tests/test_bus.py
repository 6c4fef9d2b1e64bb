"""The bus against a real nats-server: RPC, typed errors, events through JetStream, consumers."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from tusk_common.bus import Bus, Received
from tusk_common.errors import Conflict, Invalid, NotFound, TuskError, Unavailable
from tusk_common.events import CloudEvent, RepoCreated, parse_event
from tusk_common.settings import NatsSettings
from tusk_common.wire.base import Request, Wire


class Echo(Wire):
    text: str


class EchoRequest(Request):
    SERVICE: ClassVar[str] = "testsvc"
    METHOD: ClassVar[str] = "echo"
    REPLY: ClassVar[type] = Echo
    text: str
    fail: str | None = None


async def _echo(req: EchoRequest) -> Echo:
    if req.fail == "notfound":
        raise NotFound("no such thing", field="text", repo="r")
    if req.fail == "crash":
        raise RuntimeError("boom")
    return Echo(text=req.text.upper())


async def test_rpc_returns_the_reply_model(bus):
    await bus.serve({EchoRequest: _echo})
    reply = await bus.request(EchoRequest(text="hi"))
    assert reply == Echo(text="HI")


async def test_rpc_rebuilds_the_typed_error_with_its_details(bus):
    await bus.serve({EchoRequest: _echo})
    with pytest.raises(NotFound) as info:
        await bus.request(EchoRequest(text="x", fail="notfound"))
    assert info.value.field == "text"
    assert info.value.details["repo"] == "r"


async def test_rpc_handler_crash_is_an_internal_error_not_a_hang(bus):
    await bus.serve({EchoRequest: _echo})
    with pytest.raises(Exception) as info:
        await bus.request(EchoRequest(text="x", fail="crash"))
    assert getattr(info.value, "code", None) == "internal"
    assert "RuntimeError" in str(info.value)


async def test_rpc_with_a_malformed_request_answers_invalid_naming_the_field(bus):
    await bus.serve({EchoRequest: _echo})
    msg = await bus.nc.request("tusk.rpc.testsvc.echo", b'{"nottext": 1}', timeout=2)
    assert b'"code":"invalid"' in msg.data and b"text" in msg.data


async def test_rpc_without_a_server_is_unavailable(bus):
    with pytest.raises(Unavailable, match="no testsvc service"):
        await bus.request(EchoRequest(text="x"))


async def test_rpc_requests_are_answered_concurrently(bus):
    gate = asyncio.Event()

    async def slow(req: EchoRequest) -> Echo:
        if req.text == "first":
            await gate.wait()
        else:
            gate.set()
        return Echo(text=req.text)

    await bus.serve({EchoRequest: slow})
    a, b = await asyncio.gather(bus.request(EchoRequest(text="first")), bus.request(EchoRequest(text="second")))
    assert (a.text, b.text) == ("first", "second")


async def test_published_event_is_delivered_once_to_a_durable_consumer_despite_duplicate_publish(bus):
    event_id = await bus.publish_event(RepoCreated(repo="images"), source="test")
    await bus.publish_event(RepoCreated(repo="images"), source="test", event_id=event_id)  # a retry
    seen: list[CloudEvent] = []
    stopping = asyncio.Event()

    async def handler(ce: CloudEvent) -> None:
        seen.append(ce)
        stopping.set()

    await asyncio.wait_for(bus.consume_events("t1", handler, kinds=["repo.created"], stopping=stopping), 10)
    info = await bus.js.stream_info("TUSK_EVENTS")
    assert info.state.messages == 1
    assert [parse_event(ce) for ce in seen] == [RepoCreated(repo="images")]
    assert seen[0].type == "io.tusk.repo.created.v1" and seen[0].subject == "images"


async def test_consumer_redelivers_after_a_retryable_error_and_terminates_on_a_permanent_one(bus):
    await bus.publish_event(RepoCreated(repo="a"), source="test")
    await bus.publish_event(RepoCreated(repo="b"), source="test")
    calls: list[str] = []
    stopping = asyncio.Event()

    async def handler(ce: CloudEvent) -> None:
        repo = ce.data["repo"]
        calls.append(repo)
        if repo == "a" and calls.count("a") == 1:
            raise Unavailable("try later")
        if repo == "b":
            raise Conflict("never")
        if calls.count("a") == 2:
            stopping.set()

    await asyncio.wait_for(
        bus.consume_events("t2", handler, stopping=stopping, retry_delay=0.05), 10
    )
    assert calls.count("a") == 2 and calls.count("b") == 1
    # acks are fire-and-forget publishes: wait (bounded) for the server to have seen the last one
    for _ in range(100):
        info = await bus.js.consumer_info("TUSK_EVENTS", "t2")
        if info.num_ack_pending == 0:
            break
        await asyncio.sleep(0.02)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def _settled(bus: Bus, durable: str) -> Any:
    """The consumer once the server has seen the last ack (acks are fire-and-forget publishes)."""
    for _ in range(100):
        info = await bus.js.consumer_info("TUSK_EVENTS", durable)
        if info.num_ack_pending == 0:
            break
        await asyncio.sleep(0.02)
    return info


async def test_batch_consumer_takes_what_waits_at_once_and_falls_back_to_one_by_one(bus):
    for repo in ("a", "b", "c", "d"):
        await bus.publish_event(RepoCreated(repo=repo), source="test")
    batches: list[list[str]] = []
    done_in_batch: list[str] = []
    alone: list[str] = []
    stopping = asyncio.Event()

    def check_done() -> None:
        if sorted(done_in_batch + alone) == ["a", "b", "c", "d"]:
            stopping.set()

    async def handle_batch(batch: list[Received]) -> None:
        repos = [r.event.data["repo"] for r in batch]
        batches.append(repos)
        if len(batches) == 1:
            raise Unavailable("try the whole batch later")
        if "c" in repos:
            raise Conflict("one of them is bad")
        done_in_batch.extend(repos)
        check_done()

    async def handler(ce: CloudEvent) -> None:
        alone.append(ce.data["repo"])
        check_done()
        if ce.data["repo"] == "c":
            raise Conflict("c is bad")

    await asyncio.wait_for(bus.consume_event_batches("tb", handle_batch, handler, kinds=["repo.created"],
                                                     stopping=stopping, retry_delay=0.05), 10)  # fmt: skip
    # The first fetch took all four at once; the retryable error brought every one back; the batch with
    # the bad event was handled one by one (so c alone was rejected and the others still went through).
    assert batches[0] == ["a", "b", "c", "d"]
    assert sorted(r for b in batches[1:] for r in b) == ["a", "b", "c", "d"]
    assert "c" in alone and "c" not in done_in_batch
    info = await _settled(bus, "tb")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_batch_handler_can_send_back_some_events_and_settle_the_others(bus):
    for repo in ("a", "b", "c"):
        await bus.publish_event(RepoCreated(repo=repo), source="test")
    seen: list[list[str]] = []
    stopping = asyncio.Event()

    async def handle_batch(batch: list[Received]) -> dict[str, TuskError]:
        repos = [r.event.data["repo"] for r in batch]
        seen.append(repos)
        if len(seen) == 1:  # b must wait (for a fact another event brings), c is bad for good
            return {r.event.id: (Unavailable("later") if r.event.data["repo"] == "b" else Conflict("never"))
                    for r in batch if r.event.data["repo"] in ("b", "c")}  # fmt: skip
        stopping.set()
        return {}

    async def handler(ce: CloudEvent) -> None:
        raise AssertionError("no event goes alone here")

    await asyncio.wait_for(bus.consume_event_batches("tc", handle_batch, handler, kinds=["repo.created"],
                                                     stopping=stopping, retry_delay=0.05), 10)  # fmt: skip
    assert seen == [["a", "b", "c"], ["b"]]  # a acknowledged, b redelivered alone, c terminated
    info = await _settled(bus, "tc")
    assert info.num_ack_pending == 0 and info.num_pending == 0


def test_invalid_carries_field_through_the_wire_format():
    from tusk_common.errors import from_wire

    err = from_wire(Invalid("bad", field="name").to_wire())
    assert isinstance(err, Invalid) and err.field == "name" and err.message == "bad"


async def test_rpc_metrics_count_requests_by_method_and_code(nats_server):
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    bus = await Bus.connect(NatsSettings(url=nats_server.url), name="m", registry=registry)
    try:
        await bus.serve({EchoRequest: _echo})
        await bus.request(EchoRequest(text="a"))
        with pytest.raises(NotFound):
            await bus.request(EchoRequest(text="a", fail="notfound"))
        labels = {"service": "testsvc", "method": "echo"}
        assert registry.get_sample_value("tusk_rpc_requests_total", {**labels, "code": "ok"}) == 1
        assert registry.get_sample_value("tusk_rpc_requests_total", {**labels, "code": "not_found"}) == 1
        assert registry.get_sample_value("tusk_rpc_request_seconds_count", labels) == 2
    finally:
        await bus.close()


async def test_rpc_and_event_spans_join_one_trace(bus):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    trace._TRACER_PROVIDER = None  # let the test install its own provider
    trace._TRACER_PROVIDER_SET_ONCE._done = False
    trace.set_tracer_provider(provider)
    try:
        await bus.serve({EchoRequest: _echo})
        stopping = asyncio.Event()

        async def handler(ce: CloudEvent) -> None:
            stopping.set()

        with tracer.start_as_current_span("upload") as root:
            await bus.request(EchoRequest(text="x"))
            await bus.publish_event(RepoCreated(repo="r"), source="test")
        await asyncio.wait_for(bus.consume_events("trace", handler, stopping=stopping), 10)
        spans = exporter.get_finished_spans()
        names = {s.name for s in spans}
        assert {"rpc testsvc.echo", "serve testsvc.echo", "publish repo.created",
                "consume io.tusk.repo.created.v1"} <= names
        trace_id = root.get_span_context().trace_id
        assert {s.context.trace_id for s in spans if s.name != "upload"} == {trace_id}
    finally:
        # Back to "no provider set" (the API's proxy then answers with no-op tracers). Setting the
        # proxy itself as the provider would make it delegate to itself forever.
        trace._TRACER_PROVIDER = None
        trace._TRACER_PROVIDER_SET_ONCE._done = False
        provider.shutdown()


async def test_consumers_lists_every_page_past_jetstreams_256(bus):
    from nats.js.api import ConsumerConfig

    from tusk_common.bus import CONSUMERS_PAGE
    from tusk_common.subjects import DATUMS_STREAM

    names = [f"paging-{i:03d}" for i in range(CONSUMERS_PAGE + 44)]
    for name in names:
        await bus.js.add_consumer(DATUMS_STREAM, ConsumerConfig(durable_name=name,
                                                                filter_subject=f"tusk.datums.{name}"))
    try:
        assert len(await bus.js.consumers_info(DATUMS_STREAM)) == CONSUMERS_PAGE  # one page is not all
        listed = [c.name for c in await bus.consumers(DATUMS_STREAM) if c.name.startswith("paging-")]
        assert sorted(listed) == names
    finally:
        for name in names:
            await bus.js.delete_consumer(DATUMS_STREAM, name)
