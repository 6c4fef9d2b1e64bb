"""NATS RPC handlers of `tusk.rpc.lineage.*`: one use case each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tusk_common.wire import lineage as wl
from tusk_common.wire.base import Request, Wire
from tusk_lineage import graphs, rebuild, reproduce
from tusk_lineage.adapters import store
from tusk_lineage.deps import Deps


def handlers(deps: Deps) -> Mapping[type[Request], Callable[[Any], Awaitable[Wire]]]:
    async def query(r: wl.QueryLineage) -> wl.LineageReply:
        return await graphs.query(deps, r)

    async def commit_set(r: wl.CommitSetLineage) -> wl.LineageReply:
        return await graphs.commit_set(deps, r)

    async def reproduce_(r: wl.Reproduce) -> wl.ReproducePlan:
        return await reproduce.plan(deps, r)

    async def rebuild_(_r: wl.Rebuild) -> wl.RebuildReport:
        return await rebuild.rebuild(deps)

    async def stats(_r: wl.GetStats) -> wl.LineageStats:
        async with deps.pool.acquire() as conn:
            return wl.LineageStats(**await store.stats(conn))

    table: dict[type[Request], Callable[[Any], Awaitable[Wire]]] = {
        wl.QueryLineage: query, wl.CommitSetLineage: commit_set, wl.Reproduce: reproduce_,
        wl.Rebuild: rebuild_, wl.GetStats: stats,
    }  # fmt: skip
    assert set(table) == set(wl.ALL_REQUESTS), "every request of the contract has a handler"
    return table
