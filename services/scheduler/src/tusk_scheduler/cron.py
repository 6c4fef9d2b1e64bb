"""Cron inputs: each due tick commits a file named by its time to the cron repo (`<pipeline>_<name>`).

Replicas share the ticks through `FOR UPDATE SKIP LOCKED` on the cron state row; the tick's file is named
by its scheduled time, so a tick repeated after a crash writes the same file again (no new datum).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog

from tusk_common.errors import TuskError
from tusk_common.wire.versioning import FileChange
from tusk_scheduler.adapters import catalog
from tusk_scheduler.deps import Deps
from tusk_scheduler.domain.cron import parse_cron, tick_path
from tusk_scheduler.domain.spec import spec_from_dict
from tusk_scheduler.planning import cron_inputs

log = structlog.get_logger(__name__)


class CronTicker:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.tick_due()
            except (TuskError, OSError) as exc:
                log.warning("cron.failed", error=str(exc))
            except Exception:
                log.exception("cron.crashed")
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self.deps.settings.cron_interval)
            except TimeoutError:
                pass

    async def tick_due(self) -> int:
        """Commit every due tick once; returns how many."""
        deps = self.deps
        done = 0
        empty = None
        async with deps.pool.acquire() as conn:
            due = await conn.fetch(
                "SELECT c.pipeline, c.input FROM cron_state c JOIN pipelines p ON p.name = c.pipeline"
                " WHERE c.next_tick <= now() AND p.state = 'running'"
            )
        for row in due:
            async with deps.pool.acquire() as conn, conn.transaction():
                state = await conn.fetchrow(
                    "SELECT * FROM cron_state WHERE pipeline = $1 AND input = $2 AND next_tick <= now()"
                    " FOR UPDATE SKIP LOCKED",
                    row["pipeline"], row["input"],
                )  # fmt: skip
                if state is None:
                    continue
                p = await catalog.get_pipeline(conn, row["pipeline"])
                if p is None:
                    continue  # deleted meanwhile
                version = await catalog.require_version(conn, p["name"], p["version"])
                cron = next((c for c in cron_inputs(spec_from_dict(version["spec"]).input)
                             if c.name == row["input"]), None)  # fmt: skip
                if cron is None:
                    await conn.execute("DELETE FROM cron_state WHERE pipeline = $1 AND input = $2",
                                       row["pipeline"], row["input"])  # fmt: skip
                    continue
                if empty is None:
                    empty = await deps.store.write_bytes(b"")
                tick = state["next_tick"]
                changes = []
                if cron.overwrite:
                    current = await deps.versioning.list_tree(cron.repo, "master") if await _has_head(deps, cron.repo) else {}
                    changes = [FileChange(op="delete", path=p) for p in sorted(current) if p != tick_path(tick)]
                changes.append(FileChange(op="put", path=tick_path(tick), content=empty))
                await deps.versioning.put_files(cron.repo, "master", changes, batch=deps.settings.put_batch)
                schedule = parse_cron(cron.spec)
                nxt = schedule.next_after(tick)
                now = datetime.now(UTC)
                while nxt <= now:  # missed ticks (the scheduler was down) collapse into this one
                    nxt = schedule.next_after(nxt)
                await conn.execute("UPDATE cron_state SET next_tick = $3 WHERE pipeline = $1 AND input = $2",
                                   row["pipeline"], row["input"], nxt)  # fmt: skip
                done += 1
                log.info("cron.tick", pipeline=row["pipeline"], input=row["input"], tick=tick_path(tick))
        return done


async def _has_head(deps: Deps, repo: str) -> bool:
    return await deps.versioning.finished_head(repo, "master") is not None
