"""Pytest plugin (auto-loaded through the `pytest11` entry point of tusk-common).

- `postgres_server` (session): one embedded Postgres per test process, fsync off, on a free port.
- `database_url` (function): a fresh, empty database on it for each test.
- `nats_server` (function): a fresh nats-server with JetStream on a free port for each test; it can be
  stopped and started again on the same port and store (outage tests).
- `service_settings` (function): `ServiceSettings` wired to both, with an `fs` chunk store in tmp_path.
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
