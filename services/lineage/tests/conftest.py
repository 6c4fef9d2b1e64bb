"""Fixtures of the lineage tests: the whole stack (versioning, scheduler, worker, lineage) in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from lineage_stack import Stack, open_stack  # type: ignore[import-not-found]

from tusk_common.settings import ServiceSettings


@pytest_asyncio.fixture
async def stack(service_settings: ServiceSettings, tmp_path: Path) -> AsyncIterator[Stack]:
    """Versioning, a scheduler, a worker and the lineage service."""
    async with open_stack(service_settings, tmp_path) as s:
        await s.start_lineage()
        yield s


@pytest_asyncio.fixture
async def bare(service_settings: ServiceSettings, tmp_path: Path) -> AsyncIterator[Stack]:
    """Versioning, scheduler and worker; the test starts (and stops) lineage itself."""
    async with open_stack(service_settings, tmp_path) as s:
        yield s
