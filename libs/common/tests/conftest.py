"""Fixtures shared by the tests of libs/common (the NATS and Postgres servers come from the testing plugin)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tusk_common.bus import Bus
from tusk_common.settings import NatsSettings


@pytest.fixture
async def bus(nats_server: Any) -> AsyncIterator[Bus]:
    """A connected bus with Tusk's streams declared."""
    b = await Bus.connect(NatsSettings(url=nats_server.url, request_timeout=2.0), name="test")
    await b.ensure_streams()
    yield b
    await b.close()
