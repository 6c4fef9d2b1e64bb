"""Helpers shared by the chunk-store tests (imported by conftest and the test modules)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from tusk_common.settings import S3Settings, StoreSettings
from tusk_common.store import ChunkStore, ObjectStore, StoreMetrics

# Small chunks keep multi-chunk files (and >64-chunk manifests) small enough for a fast suite.
SMALL_CHUNKS = {"chunk_min": 4 * 1024, "chunk_avg": 16 * 1024, "chunk_max": 64 * 1024}

Tamper = Callable[[str], Awaitable[None]]


def s3_settings(endpoint: str, **overrides: Any) -> S3Settings:
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "access_key": SecretStr("testing"),
        "secret_key": SecretStr("testing"),
        "bucket": f"tusk-test-{uuid.uuid4().hex[:12]}",
        "max_workers": 8,
    }
    return S3Settings(**(values | overrides))


class Stores:
    """Builds chunk stores over the test's backend, all counting into one registry."""

    def __init__(self, backend: ObjectStore, kind: str) -> None:
        self.backend = backend
        self.kind = kind
        self.registry = CollectorRegistry()
        self.metrics = StoreMetrics(self.registry)

    def make(self, **settings: Any) -> ChunkStore:
        """A new ChunkStore (empty in-process caches) with these StoreSettings overrides."""
        return ChunkStore(self.backend, StoreSettings(backend=self.kind, **settings), self.metrics)

    def metric(self, name: str) -> float:
        return self.registry.get_sample_value(f"tusk_store_{name}_total", {"backend": self.kind}) or 0.0
