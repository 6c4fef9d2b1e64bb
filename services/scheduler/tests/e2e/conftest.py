"""Fixtures of the end-to-end pipeline tests: the stack with a scheduler and one in-process worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from pipeline_stack import Stack, open_stack  # type: ignore[import-not-found]

from tusk_common.settings import ServiceSettings


@pytest_asyncio.fixture
async def bare(service_settings: ServiceSettings, tmp_path: Path) -> AsyncIterator[Stack]:
    """Versioning and a client; the test starts schedulers and workers itself."""
    async with open_stack(service_settings, tmp_path) as stack:
        yield stack


@pytest_asyncio.fixture
async def stack(bare: Stack) -> AsyncIterator[Stack]:
    """Versioning, a scheduler and a worker."""
    await bare.start_scheduler()
    await bare.start_worker()
    yield bare
