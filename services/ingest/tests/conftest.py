"""Fixtures: a real nats-server, the fake versioning responder on it, and ingest on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fake_versioning import FakeVersioning
from ingest_harness import make_settings, running_ingest

from tusk_common.bus import Bus
from tusk_common.embedded import NatsProcess
from tusk_common.settings import NatsSettings
from tusk_ingest.app import Ingest
from tusk_ingest.settings import IngestSettings


@pytest.fixture
def ingest_overrides() -> dict[str, object]:
    """Settings a test module wants changed (override this fixture)."""
    return {}


@pytest.fixture
def settings(nats_server: NatsProcess, tmp_path: Path, ingest_overrides: dict[str, object]) -> IngestSettings:
    return make_settings(nats_server.url, tmp_path, **ingest_overrides)


@pytest_asyncio.fixture
async def fake(nats_server: NatsProcess) -> AsyncIterator[FakeVersioning]:
    bus = await Bus.connect(NatsSettings(url=nats_server.url), name="fake-versioning")
    versioning = FakeVersioning()
    await versioning.serve(bus)
    try:
        yield versioning
    finally:
        await bus.close()


@pytest_asyncio.fixture
async def ingest(settings: IngestSettings, fake: FakeVersioning) -> AsyncIterator[Ingest]:
    async with running_ingest(settings) as handle:
        yield handle


@pytest_asyncio.fixture
async def client(ingest: Ingest) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ingest.url + "/api/v1", timeout=60.0) as c:
        yield c


@pytest_asyncio.fixture
async def repo(client: httpx.AsyncClient) -> str:
    r = await client.post("/repos", json={"name": "data"})
    assert r.status_code == 201, r.text
    return "data"
