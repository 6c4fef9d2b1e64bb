"""The real S3 driver over an in-process versioning service (real NATS and Postgres), for the tests.

`tusk_driver(settings, tmp_path)` runs versioning on the test's own loop and yields a `TuskDriver` (the
driver contract suite uses it); `GatewayThread` runs versioning and a whole ingest (REST API + S3
gateway) on an event loop of their own in a thread, so blocking clients (boto3, the AWS CLI, rclone,
s3cmd, pyarrow) talk to it from the test exactly as users do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tusk_common.bus import Bus
from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import DatabaseSettings, NatsSettings, OpsSettings, ServiceSettings, StoreSettings
from tusk_common.store import ChunkStore
from tusk_common.store.fs import FsObjectStore
from tusk_ingest.adapters.versioning import VersioningClient
from tusk_ingest.app import Ingest, build
from tusk_ingest.s3.commit_groups import CommitGroups
from tusk_ingest.s3.tusk_driver import TuskDriver
from tusk_ingest.s3.tusk_uploads import UploadRecords
from tusk_ingest.settings import IngestSettings
from tusk_versioning.app import NAME as VERSIONING
from tusk_versioning.app import build as build_versioning
from tusk_versioning.settings import VersioningSettings

ACCESS_KEY = "tusk-gateway-key"
SECRET_KEY = "tusk/gateway+secret=with-odd-chars"


@contextlib.asynccontextmanager
async def running_versioning(settings: ServiceSettings) -> AsyncIterator[None]:
    vs = VersioningSettings.model_validate({**settings.model_dump(), "wait_poll_interval": 0.5})

    async def keep(ctx: ServiceContext) -> None:
        await build_versioning(ctx)

    async with running_service(VERSIONING, vs, keep):
        yield


@dataclass
class DriverParts:
    driver: TuskDriver
    client: VersioningClient
    store: ChunkStore
    groups: CommitGroups


@contextlib.asynccontextmanager
async def tusk_driver(settings: ServiceSettings, tmp_path: Path, *,
                      upload_expiry: timedelta = timedelta(days=7)) -> AsyncIterator[DriverParts]:
    """Versioning in-process and a `TuskDriver` talking to it over NATS, with an fs chunk store."""
    async with running_versioning(settings):
        bus = await Bus.connect(settings.nats, name="s3-driver-test")
        backend = FsObjectStore(tmp_path / "objects")
        try:
            client = VersioningClient(bus)
            store = ChunkStore(backend, settings.store)
            groups = CommitGroups(client, backend)
            driver = TuskDriver(client, store, UploadRecords(backend, upload_expiry), groups=groups)
            yield DriverParts(driver, client, store, groups)
        finally:
            await backend.close()
            await bus.close()


def gateway_settings(database_url: str, nats_url: str, root: Path, **overrides: Any) -> IngestSettings:
    fields: dict[str, Any] = {
        "nats": NatsSettings(url=nats_url, request_timeout=20.0),
        "database": DatabaseSettings(url=database_url, pool_min=1, pool_max=10),
        "store": StoreSettings(backend="fs", path=str(root / "objects")),
        "ops": OpsSettings(ops_addr="127.0.0.1:0", log_format="console",
                           log_level=os.environ.get("TUSK_LOG_LEVEL", "warning")),
        "http_addr": "127.0.0.1:0",
        "s3_gateway_access_key": ACCESS_KEY,
        "s3_gateway_secret_key": SECRET_KEY,
    }
    return IngestSettings(**{**fields, **overrides})


class GatewayThread:
    """Versioning + ingest on their own loop in a thread; `url` is the public port (REST and S3)."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.url = ""
        self.ingest: Ingest | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tusk-gateway", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as e:  # surfaced by start()
            self._error = e
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with running_versioning(self.settings):
            handle: list[Ingest] = []

            async def capture(ctx: ServiceContext) -> None:
                handle.append(await build(ctx))

            async with running_service("ingest", self.settings, capture):
                self.ingest = handle[0]
                self.url = handle[0].url
                self._ready.set()
                await self._stop.wait()

    def start(self) -> GatewayThread:
        self._thread.start()
        self._ready.wait(120)
        if self._error is not None:
            raise self._error
        if not self.url:
            raise RuntimeError("the gateway did not start in time")
        return self

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        """Run a coroutine on the gateway's loop (e.g. a versioning call through its client)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def versioning(self) -> VersioningClient:
        assert self.ingest is not None
        return self.ingest.deps.versioning

    def boto3(self, **config: Any) -> Any:
        options: dict[str, Any] = {"s3": {"addressing_style": "path"}, "retries": {"max_attempts": 1}}
        options.update(config)
        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, config=Config(**options))

    def env(self) -> dict[str, str]:
        """Environment for CLI clients: the gateway's keys, no user config, no proxies."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HTTP_PROXY", "HTTPS_PROXY"))}
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION="us-east-1",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", NO_PROXY="*")
        return env


def unique(prefix: str = "r") -> str:
    """A repo name unique within a shared gateway."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
