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

from tusk_common.store.backend import ObjectStore, open_object_store
from tusk_common.store.chunker import Chunker
from tusk_common.store.chunkstore import ChunkStore
from tusk_common.store.manifest import ChunkRef
from tusk_common.store.metrics import StoreMetrics
from tusk_common.store.writer import FileWriter

__all__ = [
    "ChunkRef",
    "ChunkStore",
    "Chunker",
    "FileWriter",
    "ObjectStore",
    "StoreMetrics",
    "open_object_store",
]
