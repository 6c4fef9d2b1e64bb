"""What is particular to each backend: the fs layout and memory bound, S3 settings and outages."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from storekit import s3_settings

from tusk_common.errors import Invalid, Unavailable
from tusk_common.settings import S3Settings, StoreSettings
from tusk_common.store import ChunkStore, ObjectStore, open_object_store
from tusk_common.store.fs import FsObjectStore
from tusk_common.store.s3 import S3ObjectStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_fs_keeps_objects_as_files_under_the_root(tmp_path: Path) -> None:
    backend = await open_object_store(StoreSettings(backend="fs", path=str(tmp_path)), S3Settings())
    try:
        assert isinstance(backend, ObjectStore)
        content = await ChunkStore(backend, StoreSettings()).write_bytes(b"hello")
        [ref] = await ChunkStore(backend, StoreSettings()).manifest(content)
        path = tmp_path / "chunks" / ref.hash[:2] / ref.hash
        assert path.read_bytes() == b"\x00hello"
        assert [p.name for p in path.parent.iterdir()] == [ref.hash]  # no temporary file left behind
    finally:
        await backend.close()


async def test_fs_list_skips_unfinished_temporary_files(tmp_path: Path) -> None:
    backend = FsObjectStore(tmp_path, fsync=True)
    try:
        await backend.put("chunks/aa/aa1", b"1")
        (tmp_path / "chunks" / "aa" / ".tmp-crashed-writer").write_bytes(b"partial")
        assert [k async for k in backend.list("chunks/")] == ["chunks/aa/aa1"]
    finally:
        await backend.close()


async def test_fs_writer_memory_stays_bounded_for_a_large_stream(tmp_path: Path) -> None:
    backend = FsObjectStore(tmp_path)
    store = ChunkStore(backend, StoreSettings())
    rng = random.Random(0)
    total = 96 * 1024 * 1024
    tracemalloc.start()
    try:
        w = store.writer()
        for _ in range(total // (256 * 1024)):
            await w.write(rng.randbytes(256 * 1024))
        content = await w.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await backend.close()
    assert content.size == total
    assert peak < 50 * 1024 * 1024, f"writer peaked at {peak / 2**20:.1f} MiB"


async def test_s3_creates_the_bucket_and_keeps_keys_below_the_prefix(s3_endpoint: str) -> None:
    settings = s3_settings(s3_endpoint, prefix="/team-a/")
    backend = await open_object_store(StoreSettings(backend="s3"), settings)
    try:
        await backend.put("chunks/ab/abc", b"x")
        assert [k async for k in backend.list("chunks/")] == ["chunks/ab/abc"]
        assert isinstance(backend, S3ObjectStore)
        raw = await asyncio.to_thread(
            lambda: [o.object_name for o in backend._client.list_objects(settings.bucket, recursive=True)]
        )
        assert raw == ["team-a/chunks/ab/abc"]
        # Opening again finds the bucket and keeps what is in it.
        again = await open_object_store(StoreSettings(backend="s3"), settings)
        assert await again.get("chunks/ab/abc") == b"x"
        await again.close()
    finally:
        await backend.close()


async def test_s3_endpoint_may_be_given_as_a_url(s3_endpoint: str) -> None:
    backend = await open_object_store(
        StoreSettings(backend="s3"), s3_settings(f"http://{s3_endpoint}", secure=True)
    )
    try:
        await backend.put("k", b"v")
        assert await backend.get("k") == b"v"
    finally:
        await backend.close()


async def test_s3_unreachable_is_unavailable() -> None:
    settings = S3Settings(endpoint=f"127.0.0.1:{free_port()}", bucket="tusk-down")  # anonymous
    with pytest.raises(Unavailable) as info:
        await open_object_store(StoreSettings(backend="s3"), settings)
    assert info.value.retryable


async def test_s3_going_away_after_open_is_unavailable(s3_endpoint: str) -> None:
    backend = S3ObjectStore(s3_settings(s3_endpoint))
    await backend.open()
    await backend.close()
    # Same bucket, but a port where nothing listens any more.
    down = S3ObjectStore(s3_settings(f"127.0.0.1:{free_port()}", bucket=backend.bucket))
    try:
        for op in (down.get("k"), down.put("k", b"v"), down.exists("k")):
            with pytest.raises(Unavailable):
                await op
    finally:
        await down.close()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"endpoint": ""}, "endpoint"),
        ({"bucket": "x"}, "bucket"),
        ({"secret_key": SecretStr("")}, "secret_key"),
    ],
)
def test_s3_settings_are_checked(overrides: dict[str, Any], field: str) -> None:
    endpoint = overrides.pop("endpoint", "127.0.0.1:9")
    with pytest.raises(Invalid) as info:
        S3ObjectStore(s3_settings(endpoint, **overrides))
    assert info.value.field == field


def test_fs_root_is_created(tmp_path: Path) -> None:
    FsObjectStore(tmp_path / "a" / "b")
    assert os.path.isdir(tmp_path / "a" / "b")
