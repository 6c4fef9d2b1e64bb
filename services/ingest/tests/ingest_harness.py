"""Starting ingest for tests: settings on free ports and an fs store, and the running service's handle."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import NatsSettings, OpsSettings, StoreSettings
from tusk_ingest.app import Ingest, build
from tusk_ingest.settings import IngestSettings


def make_settings(nats_url: str, tmp_path: Path, **overrides: object) -> IngestSettings:
    fields: dict[str, object] = {
        "nats": NatsSettings(url=nats_url, request_timeout=10.0),
        "store": StoreSettings(backend="fs", path=str(tmp_path / "objects")),
        "ops": OpsSettings(ops_addr="127.0.0.1:0", log_format="console",
                           log_level=os.environ.get("TUSK_LOG_LEVEL", "warning")),
        "http_addr": "127.0.0.1:0",
    }
    return IngestSettings(**{**fields, **overrides})


@contextlib.asynccontextmanager
async def running_ingest(settings: IngestSettings) -> AsyncIterator[Ingest]:
    """Ingest under `running_service` (ops port, ordered shutdown), yielding the handle `build` returns."""
    handle: list[Ingest] = []

    async def capture(ctx: ServiceContext) -> None:
        handle.append(await build(ctx))

    async with running_service("ingest", settings, capture):
        yield handle[0]
