"""The chunk store: file bytes as content-defined, content-addressed chunks on an object store.

backend     ObjectStore port, key rules, open_object_store()
fs, s3      the two ObjectStore adapters
chunker     push-style FastCDC
chunk       chunk keys, hashing, the stored frame (raw / zstd), verification
manifest    packed manifests, content ids, ChunkRef
writer      FileWriter: one file streamed in
chunkstore  ChunkStore: write, append, read, manifest
metrics     StoreMetrics
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tusk_common.store.backend import ObjectStore, open_object_store
    from tusk_common.store.chunker import Chunker
    from tusk_common.store.chunkstore import ChunkStore
    from tusk_common.store.manifest import ChunkRef
    from tusk_common.store.metrics import StoreMetrics
    from tusk_common.store.writer import FileWriter

# Loaded on first use: a client that only cuts and hashes (`store.chunker`, `store.manifest`) must not
# pay for the settings, metrics and backends at start-up.
_LAZY = {
    "ObjectStore": "backend",
    "open_object_store": "backend",
    "Chunker": "chunker",
    "ChunkStore": "chunkstore",
    "ChunkRef": "manifest",
    "StoreMetrics": "metrics",
    "FileWriter": "writer",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ChunkRef",
    "ChunkStore",
    "Chunker",
    "FileWriter",
    "ObjectStore",
    "StoreMetrics",
    "open_object_store",
]
