"""`TuskDriver` (versioning + chunk store) keeps the `Driver` contract, against real services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from driver_contract import DriverContract
from tusk_stack import tusk_driver

from tusk_common.settings import ServiceSettings
from tusk_ingest.s3.tusk_driver import TuskDriver


class TestTuskDriver(DriverContract):
    @pytest_asyncio.fixture
    async def driver(self, service_settings: ServiceSettings, tmp_path: Path) -> AsyncIterator[TuskDriver]:
        async with tusk_driver(service_settings, tmp_path) as parts:
            yield parts.driver
