"""Prometheus counters of the chunk store, on a registry the composition root passes in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class StoreMetrics:
    """Counters of bytes and chunks moved by the chunk store, labelled by `backend` (fs, s3)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["backend"], registry=registry)

        # Stored bytes: after compression, including the 1-byte frame header.
        self.bytes_written = counter("tusk_store_bytes_written", "Bytes of new chunk objects stored.")
        self.bytes_read = counter("tusk_store_bytes_read", "Bytes of chunk objects fetched.")
        self.chunks_written = counter("tusk_store_chunks_written", "New chunk objects stored.")
        self.chunks_deduplicated = counter(
            "tusk_store_chunks_deduplicated", "Chunks not stored because an equal chunk already was."
        )
        # Logical (uncompressed) bytes, so that written + deduplicated = bytes uploaded, roughly.
        self.bytes_deduplicated = counter(
            "tusk_store_bytes_deduplicated", "Uncompressed bytes of chunks not stored thanks to dedup."
        )
        self.corrupt_chunks = counter(
            "tusk_store_corrupt_chunks", "Chunks that failed verification or were missing on read."
        )
