"""Pytest plugin (auto-loaded through the `pytest11` entry point of tusk-common).

- `postgres_server` (session): one embedded Postgres per test process, fsync off, on a free port.
- `database_url` (function): a fresh, empty database on it for each test.
- `nats_server` (function): a fresh nats-server with JetStream on a free port for each test; it can be
  stopped and started again on the same port and store (outage tests).
- `service_settings` (function): `ServiceSettings` wired to both, with an `fs` chunk store in tmp_path.
- `span_exporter` (function): an in-memory OpenTelemetry exporter installed as this process's tracer
  provider for the test (spans are exported as they end); tracing is off again afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from tusk_common.embedded import NatsProcess, PostgresProcess
from tusk_common.settings import (
    DatabaseSettings,
    NatsSettings,
    OpsSettings,
    ServiceSettings,
    StoreSettings,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresProcess]:
    root = Path(tempfile.mkdtemp(prefix="tusk-pg-"))
    server = PostgresProcess(root / "data")
    server.start(fsync=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest_asyncio.fixture
async def database_url(postgres_server: PostgresProcess) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_server.url("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield postgres_server.url(name)
    admin = await asyncpg.connect(postgres_server.url("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsProcess]:
    server = NatsProcess(tmp_path / "nats", log_file=tmp_path / "nats.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def service_settings(database_url: str, nats_server: NatsProcess, tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(
        nats=NatsSettings(url=nats_server.url, request_timeout=10.0),
        database=DatabaseSettings(url=SecretStr(database_url), pool_min=1, pool_max=10),
        store=StoreSettings(backend="fs", path=str(tmp_path / "objects")),
        ops=OpsSettings(ops_addr="127.0.0.1:0", log_format="console", log_level=os.environ.get("TUSK_LOG_LEVEL", "warning")),
    )


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace._TRACER_PROVIDER = None  # the API lets a process set its provider once: the test installs its own
    trace._TRACER_PROVIDER_SET_ONCE._done = False
    trace.set_tracer_provider(provider)
    try:
        yield memory
    finally:
        # Back to "none set" (the API's proxy then answers with no-op tracers). Setting the proxy itself
        # as the provider would make it delegate to itself forever.
        trace._TRACER_PROVIDER = None
        trace._TRACER_PROVIDER_SET_ONCE._done = False
        provider.shutdown()
