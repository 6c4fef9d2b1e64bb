"""Fixtures: the S3 gateway over a `MemoryDriver` on a free loopback port, plain and over TLS; and the
real gateway (ingest + versioning on NATS and Postgres) for the client suites."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from s3_server import Served, client, self_signed, serve
from tusk_stack import GatewayThread, gateway_settings

from tusk_common.embedded import NatsProcess, PostgresProcess
from tusk_ingest.s3 import MemoryDriver


@pytest.fixture
def gateway() -> Iterator[Served]:
    driver = MemoryDriver()
    server = serve(driver)
    port = server.start()
    try:
        yield Served("127.0.0.1", port, driver)
    finally:
        server.stop()


@pytest.fixture
def s3(gateway: Served):  # type: ignore[no-untyped-def]
    return client(gateway.url)


@pytest.fixture
def tls_gateway(tmp_path: Path) -> Iterator[Served]:
    """The gateway over HTTPS: where boto3 sends flexible checksums as aws-chunked trailers."""
    driver = MemoryDriver()
    server = serve(driver, ssl_context=self_signed(tmp_path))
    port = server.start()
    try:
        yield Served("127.0.0.1", port, driver, scheme="https")
    finally:
        server.stop()


# -------------------------------------------------------------------- the real gateway


@pytest.fixture(scope="module")
def tusk_gateway(postgres_server: PostgresProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """Versioning + ingest (REST API and S3 gateway) on real NATS and Postgres, shared by a module;
    tests keep apart by using repos of their own (`tusk_stack.unique`)."""
    root = tmp_path_factory.mktemp("tusk-gateway")
    name = f"s3_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server, f'CREATE DATABASE "{name}"'))
    nats = NatsProcess(root / "nats", log_file=root / "nats.log")
    nats.start()
    gateway = GatewayThread(gateway_settings(postgres_server.url(name), nats.url, root))
    try:
        yield gateway.start()
    finally:
        gateway.stop()
        nats.stop()
        asyncio.run(_admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(server: PostgresProcess, sql: str) -> None:
    conn = await asyncpg.connect(server.url("postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
