"""Fixtures: the S3 gateway over a `MemoryDriver` on a free loopback port, plain and over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from s3_server import Served, client, self_signed, serve

from tusk_ingest.s3 import MemoryDriver


@pytest.fixture
def gateway() -> Iterator[Served]:
    driver = MemoryDriver()
    server = serve(driver)
    port = server.start()
    try:
        yield Served("127.0.0.1", port, driver)
    finally:
        server.stop()


@pytest.fixture
def s3(gateway: Served):  # type: ignore[no-untyped-def]
    return client(gateway.url)


@pytest.fixture
def tls_gateway(tmp_path: Path) -> Iterator[Served]:
    """The gateway over HTTPS: where boto3 sends flexible checksums as aws-chunked trailers."""
    driver = MemoryDriver()
    server = serve(driver, ssl_context=self_signed(tmp_path))
    port = server.start()
    try:
        yield Served("127.0.0.1", port, driver, scheme="https")
    finally:
        server.stop()
