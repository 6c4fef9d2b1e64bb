"""Prometheus metrics of the worker, on the service's registry: Pachyderm's `pachyderm_worker_datum_*` set
under `tusk_worker_datum_*` (count by state, download/process/upload seconds, bytes in and out, per
pipeline), and how many of this process's slots are busy.

Datums are observed once their result is stored by JetStream, from the `datum.done`/`datum.failed`
event the worker sends, so a datum redelivered to another worker is counted by the one that finished it.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tusk_common.events import DatumDone, DatumFailed, Event

SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# What `tusk_worker_datum_count_total{state}` says, from the event's state.
_STATE = {"success": "processed", "recovered": "recovered"}


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry, *, slots: int, busy: Callable[[], int]) -> None:
        def seconds(name: str, doc: str) -> Histogram:
            return Histogram(name, doc, ["pipeline"], buckets=SECONDS_BUCKETS, registry=registry)

        self.count = Counter("tusk_worker_datum_count", "Datums finished by this worker, by state.",
                             ["pipeline", "state"], registry=registry)  # fmt: skip
        self.proc_seconds = seconds("tusk_worker_datum_proc_seconds", "Time in the user's transform per datum.")
        self.download_seconds = seconds("tusk_worker_datum_download_seconds", "Time to place a datum's inputs.")
        self.upload_seconds = seconds("tusk_worker_datum_upload_seconds", "Time to store a datum's outputs.")
        self.download_bytes = Counter("tusk_worker_datum_download_bytes", "Input bytes placed for datums.",
                                      ["pipeline"], registry=registry)  # fmt: skip
        self.upload_bytes = Counter("tusk_worker_datum_upload_bytes", "Output bytes stored from datums.",
                                    ["pipeline"], registry=registry)  # fmt: skip
        self.slots = Gauge("tusk_worker_slots", "Datum sets this process may run at once.", registry=registry)
        self.slots.set(slots)
        self.busy = Gauge("tusk_worker_busy", "Datums running in this process now.", registry=registry)
        self.busy.set_function(lambda: float(busy()))

    def datum_finished(self, event: Event) -> None:
        """Observe the result of a datum this worker has just published."""
        if isinstance(event, DatumDone):
            p = event.pipeline
            self.count.labels(pipeline=p, state=_STATE.get(event.state, event.state)).inc()
            self.proc_seconds.labels(pipeline=p).observe(event.process_seconds)
            self.download_seconds.labels(pipeline=p).observe(event.download_seconds)
            self.upload_seconds.labels(pipeline=p).observe(event.upload_seconds)
            self.download_bytes.labels(pipeline=p).inc(event.download_bytes)
            self.upload_bytes.labels(pipeline=p).inc(event.upload_bytes)
        elif isinstance(event, DatumFailed):
            self.count.labels(pipeline=event.pipeline, state="failed").inc()
            if event.attempts:  # 0: it never ran (a missing secret key, or too many deliveries)
                self.proc_seconds.labels(pipeline=event.pipeline).observe(event.process_seconds)
