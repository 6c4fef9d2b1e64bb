"""Fixtures: the versioning service running in-process on a real Postgres and NATS, and a client bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio

from tusk_common.bus import Bus
from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import ServiceSettings
from tusk_common.wire.base import Request
from tusk_versioning.app import NAME, build
from tusk_versioning.deps import Deps
from tusk_versioning.settings import VersioningSettings


@dataclass
class Service:
    """The running service: `call` goes over NATS; `deps` exposes internals for structural checks."""

    bus: Bus
    deps: Deps
    settings: VersioningSettings

    async def call(self, req: Request, **kw: Any) -> Any:
        return await self.bus.request(req, **kw)


def versioning_settings(base: ServiceSettings, **overrides: Any) -> VersioningSettings:
    return VersioningSettings.model_validate({**base.model_dump(), "wait_poll_interval": 0.5, **overrides})


@pytest_asyncio.fixture
async def service(service_settings: ServiceSettings) -> AsyncIterator[Service]:
    settings = versioning_settings(service_settings)
    built: list[Deps] = []

    async def keep(ctx: ServiceContext) -> None:
        built.append(await build(ctx))

    async with running_service(NAME, settings, keep):
        client = await Bus.connect(settings.nats, name="test-client")
        try:
            yield Service(client, built[0], settings)
        finally:
            await client.close()
