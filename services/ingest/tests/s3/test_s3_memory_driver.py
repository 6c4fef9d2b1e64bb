"""`MemoryDriver` keeps the `Driver` contract."""

from __future__ import annotations

import pytest
from driver_contract import DriverContract

from tusk_ingest.s3 import MemoryDriver


class TestMemoryDriver(DriverContract):
    @pytest.fixture
    def driver(self) -> MemoryDriver:
        return MemoryDriver()
