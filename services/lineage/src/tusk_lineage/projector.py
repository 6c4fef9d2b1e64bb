"""The live path: each event becomes facts (with the lookups it needs), applied in one transaction.

Per event: skip it if its id was applied; do the lookups (versioning, scheduler) outside any
transaction; then, in one transaction, record the event id, apply the facts, and queue `lineage.updated`
(outbox) and OpenLineage events. A redelivered event finds its id and changes nothing; a crash before the
commit leaves nothing, and the redelivery does it all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from opentelemetry import context as otel_context

from tusk_common.bus import Received
from tusk_common.errors import NotFound, TuskError, Unavailable
from tusk_common.events import (
    CloudEvent,
    CommitFinished,
    CommitStarted,
    DatumDone,
    Event,
    JobCreated,
    JobFinished,
    LineageUpdated,
    PipelineCreated,
    PipelineUpdated,
    parse_event,
)
from tusk_common.outbox import enqueue
from tusk_lineage import translate
from tusk_lineage.adapters import queries, store
from tusk_lineage.deps import Deps
from tusk_lineage.domain import openlineage as ol

log = structlog.get_logger(__name__)


class Projector:
    """Applies events to the graph; `apply` is the consumer's handler."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._handlers: dict[type[Event], Callable[[CloudEvent, Any], Awaitable[None]]] = {
            CommitStarted: self._commit_started, CommitFinished: self._commit_finished,
            PipelineCreated: self._pipeline, PipelineUpdated: self._pipeline,
            JobCreated: self._job_created, JobFinished: self._job_finished, DatumDone: self._datum_done,
        }  # fmt: skip

    async def apply_batch(self, batch: list[Received]) -> dict[str, TuskError]:
        """The events of one fetch, in order; each run of consecutive `datum.done` events is recorded in one
        transaction (a job of many small datums sends them in bursts), every other event alone. Returns the
        events that could not be applied (a commit waiting for its parent...), which come back later."""
        failed: dict[str, TuskError] = {}
        run: list[Received] = []
        for r in batch:
            if r.event.type == DatumDone.ce_type():
                run.append(r)
                continue
            await self._datums_done(run, failed)
            run = []
            token = otel_context.attach(r.context)
            try:
                await self.apply(r.event)
            except TuskError as exc:
                failed[r.event.id] = exc
            finally:
                otel_context.detach(token)
        await self._datums_done(run, failed)
        return failed

    async def _datums_done(self, batch: list[Received], failed: dict[str, TuskError]) -> None:
        try:
            await self._record_datums(batch)
        except TuskError as exc:  # an input commit not recorded yet, mostly: the whole run comes back
            failed.update((r.event.id, exc) for r in batch)

    async def _record_datums(self, batch: list[Received]) -> None:
        if not batch:
            return
        events = [(r.event, parse_event(r.event)) for r in batch]
        async with self.deps.pool.acquire() as conn:
            applied = await store.applied_among(conn, [ce.id for ce, _ in events])
        facts: list[tuple[str, Any]] = []
        for ce, ev in events:
            assert isinstance(ev, DatumDone)
            if ce.id in applied:
                continue
            if ev.datum_hash is None:
                log.warning("lineage.datum_without_inputs", pipeline=ev.pipeline, job=ev.job, datum=ev.datum_id)
                continue
            inputs = await self.deps.sources.task_inputs(ev.inputs)
            outputs = await self.deps.sources.outputs(ev.outputs, ev.outputs_ref)
            facts.append((ce.id, translate.run_from_datum(ev, inputs, outputs)))
        if not facts:
            return
        async with self.deps.pool.acquire() as conn, conn.transaction():
            mine = await store.mark_applied_many(conn, [i for i, _ in facts], DatumDone.KIND)
            runs = [f for i, f in facts if i in mine]
            await store.record_runs(conn, runs)
            for job in sorted({f.job for f in runs}):
                row = await store.get_job(conn, job)
                if row is not None and row["attached"]:
                    await store.attach_job(conn, job)  # results redelivered after their job was attached

    async def apply(self, ce: CloudEvent) -> None:
        try:
            ev = parse_event(ce)
        except KeyError:
            return  # a type this version does not know (a newer producer): nothing to record
        handler = self._handlers.get(type(ev))
        if handler is None:
            return
        async with self.deps.pool.acquire() as conn:
            if await store.already_applied(conn, ce.id):
                return
        await handler(ce, ev)

    # ------------------------------------------------------------ commits

    async def _await_parent(self, ce: CloudEvent, ev: CommitStarted | CommitFinished) -> None:
        """Raise `Unavailable` (the event comes back later) while a new commit's parent is not in the graph
        yet, for a while after the event: after a restart, JetStream redelivers the unacknowledged
        events of the dead consumer only when their ack_wait ends, while later ones already arrive, and
        a commit placed before its parent would start a lane of its own (every file a new version at
        it). A parent that never comes (its events expired, the commit was deleted) stops being waited
        for once the event is older than `parent_wait`."""
        if ev.parent is None:
            return
        settings = self.deps.settings
        wait = settings.parent_wait if settings.parent_wait is not None else 2 * settings.ack_wait
        if (datetime.now(UTC) - ce.time).total_seconds() >= wait:
            return
        async with self.deps.pool.acquire() as conn:
            if await store.commit_known(conn, ev.commit) or await store.commit_known(conn, ev.parent):
                return
        raise Unavailable(f"commit {ev.commit} waits for its parent {ev.parent} to be seen", commit=ev.commit)

    async def _commit_started(self, ce: CloudEvent, ev: CommitStarted) -> None:
        await self._await_parent(ce, ev)
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if await store.mark_applied(conn, ce.id, ev.KIND):
                await store.upsert_commit(conn, translate.commit_from_event(ev, ce.time))

    async def _commit_finished(self, ce: CloudEvent, ev: CommitFinished) -> None:
        await self._await_parent(ce, ev)
        async with self.deps.pool.acquire() as conn, conn.transaction():
            row = await store.upsert_commit(conn, translate.commit_from_event(ev, ce.time))
        changes = [] if row.recorded else await self.deps.sources.changes(ev.repo, ev.commit, full=row.needs_full_listing)
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if not await store.mark_applied(conn, ce.id, ev.KIND):
                return
            row = await store.upsert_commit(conn, translate.commit_from_event(ev, ce.time))
            if row.recorded:
                return
            n = await store.record_versions(conn, row, changes)
            await enqueue(conn, LineageUpdated(reason="commit", repo=ev.repo, commit=ev.commit,
                                               commit_set=row.commit_set, files=n), source=self.deps.source)  # fmt: skip

    # ------------------------------------------------------------ pipelines and jobs

    async def _pipeline(self, ce: CloudEvent, ev: PipelineCreated | PipelineUpdated) -> None:
        facts = await self._versions_of(ev.pipeline)
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if await store.mark_applied(conn, ce.id, ev.KIND):
                for f in facts:
                    await store.upsert_pipeline_version(conn, f)

    async def _versions_of(self, pipeline: str) -> list[Any]:
        try:
            return translate.pipeline_versions(await self.deps.sources.inspect_pipeline(pipeline))
        except NotFound:
            return []  # deleted since: its versions stay as far as they were seen

    async def _ensure_version(self, pipeline: str, version: int) -> list[Any]:
        async with self.deps.pool.acquire() as conn:
            if await store.has_pipeline_version(conn, pipeline, version):
                return []
        return await self._versions_of(pipeline)

    async def _job_created(self, ce: CloudEvent, ev: JobCreated) -> None:
        facts = await self._ensure_version(ev.pipeline, ev.pipeline_version)
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if not await store.mark_applied(conn, ce.id, ev.KIND):
                return
            for f in facts:
                await store.upsert_pipeline_version(conn, f)
            await store.upsert_job(conn, translate.job_from_created(ev, ce.time))
            em = self.deps.emitter
            if em is not None:
                code = await queries.code(conn, ev.pipeline, ev.pipeline_version)
                trigger = (ev.trigger_repo, ev.trigger_commit) if ev.trigger_repo and ev.trigger_commit else None
                event = ol.start_event(em, job=ev.job, pipeline=ev.pipeline, version=ev.pipeline_version,
                                       commit_set=ev.commit_set, at=ce.time, trigger=trigger,
                                       output_repo=ev.output_repo, code=code)  # fmt: skip
                await store.enqueue_openlineage(conn, [event], self.deps.settings.openlineage_max_queue)

    async def _job_finished(self, ce: CloudEvent, ev: JobFinished) -> None:
        facts = await self._ensure_version(ev.pipeline, ev.pipeline_version)
        carried = await self._carried(ev)
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if not await store.mark_applied(conn, ce.id, ev.KIND):
                return
            for f in facts:
                await store.upsert_pipeline_version(conn, f)
            await store.upsert_job(conn, translate.job_from_finished(ev, ce.time))
            done = await store.attach_job(conn, ev.job, carried)
            if done is None:
                return
            await enqueue(conn, LineageUpdated(
                reason="job", repo=ev.output_repo, commit=ev.output_commit, commit_set=ev.commit_set,
                pipeline=ev.pipeline, job=ev.job, inputs=done.inputs, files=done.files,
            ), source=self.deps.source)  # fmt: skip
            if self.deps.emitter is not None:
                await self._emit_finish(conn, ce.time, ev, done)

    async def _carried(self, ev: JobFinished) -> list[str]:
        """Earlier datums still current in this job that wrote a file this job wrote again (rare)."""
        if ev.output_commit is None:
            return []
        async with self.deps.pool.acquire() as conn:
            candidates = await store.carry_candidates(conn, ev.job, ev.output_commit)
        kept = []
        for datum in candidates:
            try:
                d = await self.deps.sources.inspect_datum(ev.pipeline, ev.job, datum)
            except NotFound:
                continue
            if d.state == "skipped":
                kept.append(datum)
        return kept

    async def _emit_finish(self, conn: Any, at: datetime, ev: JobFinished, done: store.Attached) -> None:
        em = self.deps.emitter
        assert em is not None
        limit = self.deps.settings.openlineage_max_files
        files, total = await queries.job_files(conn, ev.job, limit) if ev.output_commit else ([], 0)
        inputs = [tuple(i.split("@", 1)) for i in done.inputs]
        event = ol.finish_event(
            em, job=ev.job, pipeline=ev.pipeline, version=ev.pipeline_version, commit_set=ev.commit_set, at=at,
            state=ev.state, reason=ev.reason, inputs=inputs, output_repo=ev.output_repo,  # type: ignore[arg-type]
            output_commit=ev.output_commit, files=files, total_files=total,
            code=await queries.code(conn, ev.pipeline, ev.pipeline_version),
        )  # fmt: skip
        await store.enqueue_openlineage(conn, [event], self.deps.settings.openlineage_max_queue)

    # ------------------------------------------------------------ datums

    async def _datum_done(self, ce: CloudEvent, ev: DatumDone) -> None:
        if ev.datum_hash is None:
            # From a worker older than `DatumDone.inputs`: a rebuild reads this run from the scheduler.
            log.warning("lineage.datum_without_inputs", pipeline=ev.pipeline, job=ev.job, datum=ev.datum_id)
            return
        inputs = await self.deps.sources.task_inputs(ev.inputs)
        outputs = await self.deps.sources.outputs(ev.outputs, ev.outputs_ref)
        run = translate.run_from_datum(ev, inputs, outputs)
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if not await store.mark_applied(conn, ce.id, ev.KIND):
                return
            if await store.record_run(conn, run) is None:
                return
            job = await store.get_job(conn, ev.job)
            if job is not None and job["attached"]:
                await store.attach_job(conn, ev.job)  # a result redelivered after its job was attached

