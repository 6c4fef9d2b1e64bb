"""Prometheus metrics of the versioning service, on the service's registry: commit finish latency.

A commit is finished by `commit.finish` (an open commit sealed: its staged changes folded into the
parent tree, the changed paths rewritten, the branch moved) or by a write to a bare branch, which makes
and finishes its own commit in one transaction (`atomic`). Both are timed around their RPC handler, so
the use cases stay free of metrics.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

from tusk_common.wire import versioning as v
from tusk_common.wire.base import Request, Wire

Handler = Callable[[Any], Awaitable[Wire]]
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class VersioningMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.finish_seconds = Histogram(
            "tusk_commit_finish_seconds", "Time to finish a commit: seal its tree and move the branch.",
            ["kind"], buckets=BUCKETS, registry=registry,
        )  # fmt: skip

    def instrument(self, table: Mapping[type[Request], Handler]) -> dict[type[Request], Handler]:
        """The RPC handler table, with the handlers that can finish a commit timed."""
        out = dict(table)
        out[v.FinishCommit] = self._timed(table[v.FinishCommit], always=True)
        for writes in (v.PutFiles, v.CopyFile):
            out[writes] = self._timed(table[writes], always=False)
        return out

    def _timed(self, handler: Handler, *, always: bool) -> Handler:
        kind = "finish" if always else "atomic"
        histogram = self.finish_seconds.labels(kind=kind)

        async def timed(request: Any) -> Wire:
            started = time.perf_counter()
            reply = await handler(request)
            if always or (isinstance(reply, v.PutResult) and reply.atomic):
                histogram.observe(time.perf_counter() - started)
            return reply

        return timed
