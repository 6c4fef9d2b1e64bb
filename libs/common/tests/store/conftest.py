"""Fixtures of the chunk-store suite: every contract test runs against `fs` and against `s3` (a real
S3 HTTP server: moto in standalone mode, one per session, a fresh bucket per test)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from moto.server import ThreadedMotoServer
from storekit import Stores, Tamper, s3_settings

from tusk_common.settings import S3Settings, StoreSettings
from tusk_common.store import ObjectStore, open_object_store
from tusk_common.store.fs import FsObjectStore


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["fs", "s3"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest_asyncio.fixture
async def backend(
    backend_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ObjectStore]:
    if backend_kind == "fs":
        store = await open_object_store(
            StoreSettings(backend="fs", path=str(tmp_path / "objects"), io_workers=4), S3Settings()
        )
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        store = await open_object_store(StoreSettings(backend="s3"), s3_settings(endpoint))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def stores(backend: ObjectStore, backend_kind: str) -> Stores:
    return Stores(backend, backend_kind)


@pytest.fixture
def tamper(backend: ObjectStore) -> Tamper:
    """Flip one byte of a stored object: in place on disk for fs, by overwriting it for s3."""

    async def flip(key: str) -> None:
        if isinstance(backend, FsObjectStore):
            path = backend.root / key
            raw = bytearray(path.read_bytes())
            raw[len(raw) // 2] ^= 0xFF
            path.write_bytes(raw)
        else:
            raw = bytearray(await backend.get(key))
            raw[len(raw) // 2] ^= 0xFF
            await backend.put(key, bytes(raw))

    return flip
