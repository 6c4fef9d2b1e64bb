"""One datum set, start to end; per datum: inputs in, up to `datum_tries` attempts, `err_cmd`, outputs
out, the result event.

A task message carries a datum set; its datums run one after another in the slot, and each result is
published while the next datum runs. The message is acknowledged only after every result event is
stored by JetStream, so a worker killed at any point leaves the set to be redelivered; the worker that
gets it again runs only the datums the scheduler still waits for, and the scheduler takes the first
result of each datum, so a datum's outputs enter the job once. A worker stopping (SIGTERM) kills its transforms and naks their sets so another worker starts
them at once; a set of a job that ended is acknowledged and dropped.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from nats.aio.msg import Msg
from pydantic import ValidationError

from tusk_common.bus import Bus
from tusk_common.errors import TuskError, Unavailable
from tusk_common.events import DatumDone, DatumFailed, Event
from tusk_common.store import ChunkStore
from tusk_common.wire.pipelines import (
    DatumSetTask,
    DatumTask,
    LogLine,
    PendingDatums,
    ResolveSecrets,
    SecretValues,
    parse_task_message,
)
from tusk_worker.environment import transform_env
from tusk_worker.jobs import FinishedJobs
from tusk_worker.logship import LogShipper, Redactor
from tusk_worker.metrics import WorkerMetrics
from tusk_worker.runners import SLOTS_PER_UNIT, Outcome, Runner, Slot
from tusk_worker.settings import WorkerSettings
from tusk_worker.tracing import datum_span, describe, step
from tusk_worker.workspace import collect, materialize

log = structlog.get_logger(__name__)


@dataclass
class Tools:
    settings: WorkerSettings
    bus: Bus
    store: ChunkStore
    runner: Runner
    shipper: LogShipper
    jobs: FinishedJobs
    name: str
    metrics: WorkerMetrics | None = None


class DatumError(Exception):
    """The datum cannot run at all (e.g. a secret key it names does not exist); no retry helps."""


class Executor:
    def __init__(self, tools: Tools) -> None:
        self.t = tools

    async def handle(self, msg: Msg, ack_wait: float) -> None:
        """Run the datum set of one task message; acknowledge it once every datum's result is stored."""
        try:
            batch = parse_task_message(msg.data)
        except ValidationError as exc:
            log.error("task.invalid", subject=msg.subject, error=str(exc.errors()[:1]))
            await msg.term()
            return
        if self.t.jobs.finished(batch.job):
            await msg.ack()
            return
        delivered = msg.metadata.num_delivered or 1
        structlog.contextvars.bind_contextvars(job=batch.job)
        describe(batch)
        tasks = batch.tasks()
        if delivered > 1:
            tasks = await self._still_pending(batch, tasks)
            if not tasks:  # every datum of the set has its answer: its worker died before the ack
                await msg.ack()
                return
        if delivered > self.t.settings.max_deliveries:
            why = (f"the datum was handed to workers {delivered - 1} times and none finished it"
                   " (they died or stopped: out of memory?)")  # fmt: skip
            failed = [self._failed(task, why) for task in tasks]
            sent = [await asyncio.shield(self._publish(t, e, delivered)) for t, e in zip(tasks, failed, strict=True)]
            await asyncio.shield(self._settle(msg, sent))
            return
        me = asyncio.current_task()
        assert me is not None
        self.t.jobs.track(batch.job, me)
        beat = asyncio.create_task(_heartbeat(msg, max(0.5, ack_wait / 3)))
        running: list[asyncio.Task[bool | None]] = []
        try:
            await self._pipeline(tasks, delivered, running)
            results: list[bool | None] = list(await asyncio.gather(*running))
        except BaseException as exc:
            for t in running:
                t.cancel()
            await asyncio.shield(asyncio.gather(*running, return_exceptions=True))
            if not isinstance(exc, asyncio.CancelledError):
                raise
            if self.t.jobs.finished(batch.job):
                me.uncancel()
                await asyncio.shield(_quiet(msg.ack()))
                log.info("datum.dropped", reason="job ended")
                return
            await asyncio.shield(_quiet(msg.nak()))
            raise
        finally:
            beat.cancel()
        # None: our own trouble (store or scheduler away): the set runs again later, here or elsewhere.
        await asyncio.shield(self._settle(msg, [bool(x) for x in results], retry=None in results))

    async def _still_pending(self, batch: DatumSetTask, tasks: list[DatumTask]) -> list[DatumTask]:
        """The datums of a set delivered again that still wait for their first answer (the scheduler
        knows); all of them when it cannot be asked, which is safe: a second answer is ignored."""
        try:
            reply = await self.t.bus.request(PendingDatums(job=batch.job, datums=[t.datum_id for t in tasks]),
                                             timeout=10.0)  # fmt: skip
        except TuskError as exc:
            log.warning("set.pending_unknown", error=exc.message)
            return tasks
        pending = set(reply.datums)
        kept = [t for t in tasks if t.datum_id in pending]
        if len(kept) < len(tasks):
            log.info("set.resumed", answered=len(tasks) - len(kept), pending=len(kept))
        return kept

    async def _pipeline(self, tasks: list[DatumTask], delivered: int, started: list[asyncio.Task[bool | None]]
                        ) -> None:  # fmt: skip
        """Start the set's datums in order, two at a time: while one datum's transform runs, the next one's
        inputs are placed (in the slot's twin) and the previous one's outputs are stored and its result
        published. Transforms themselves run one at a time (`gate`): the set is one unit of parallelism.
        Each datum's task (in `started`) ends with whether its result was published (None: ours failed)."""
        gate = asyncio.Lock()
        ahead = asyncio.Semaphore(SLOTS_PER_UNIT)
        trouble = asyncio.Event()

        async def one(task: DatumTask) -> bool | None:
            try:
                structlog.contextvars.bind_contextvars(datum=task.datum_id[:12])
                with datum_span(task):
                    event = await self._attempt(task, gate)
                    if event is None:
                        trouble.set()
                        return None
                    return await self._publish(task, event, delivered)
            finally:
                ahead.release()

        for task in tasks:
            await ahead.acquire()
            if trouble.is_set():
                ahead.release()
                break
            started.append(asyncio.create_task(one(task)))

    async def _attempt(self, task: DatumTask, gate: asyncio.Lock) -> Event | None:
        """The datum's result event; None when the trouble is ours (store or scheduler unreachable)."""
        try:
            return await self._execute(task, gate)
        except DatumError as exc:
            return self._failed(task, str(exc))
        except TuskError as exc:
            if exc.retryable:
                log.warning("datum.retry_later", error=exc.message)
                return None
            return self._failed(task, exc.message)

    def _failed(self, task: DatumTask, error: str, attempts: int = 0, process_seconds: float = 0.0) -> DatumFailed:
        return DatumFailed(pipeline=task.pipeline, job=task.job, datum_id=task.datum_id, attempts=attempts,
                           generation=task.generation, worker=self.t.name, error=error,
                           process_seconds=process_seconds)  # fmt: skip

    async def _settle(self, msg: Msg, sent: list[bool], *, retry: bool = False) -> None:
        """Acknowledge the message when every result is stored; otherwise have it delivered again."""
        if retry or not all(sent):
            await _quiet(msg.nak(delay=1.0))
        else:
            await _quiet(msg.ack())

    async def _publish(self, task: DatumTask, event: Event, delivered: int) -> bool:
        """Store the datum's result (its log lines first); False if NATS stayed away through the retries."""
        event_id = f"{task.job}.{task.datum_id}.{task.generation}.{delivered}"
        for pause in (0.2, 0.5, 1.0, 2.0, None):
            try:
                await self.t.shipper.flush()
                await self.t.bus.publish_event(event, source=f"tusk-worker/{self.t.name}", event_id=event_id)
                log.info("datum.finished", datum=task.datum_id[:12], state=getattr(event, "state", "failed"))
                if self.t.metrics is not None:
                    self.t.metrics.datum_finished(event)
                return True
            except Unavailable as exc:
                if pause is None:
                    log.warning("datum.result_not_published", datum=task.datum_id[:12], error=exc.message)
                    return False
                await asyncio.sleep(pause)
        return False

    async def _execute(self, task: DatumTask, gate: asyncio.Lock) -> Event:
        values = await self._secrets(task)
        redact = Redactor(v for keys in values.values() for v in keys.values())
        mounts = tuple(s.mount_path for s in task.transform.secrets if s.mount_path)
        async with self.t.runner.slot(mounts) as slot:
            got = await step("download", materialize(self.t.store, slot, task))
            secret_env, secret_dirs = await _place_secrets(slot, task, values)
            env = transform_env(task, slot, secret_env, secret_dirs)
            async with gate:
                state, attempt, spent, problem = await self._transform(slot, task, env, redact)
            if state == "success":
                col = await step("upload", collect(self.t.store, slot, got.files))
                for path in col.skipped:
                    self._system(task, attempt, f"output {path} was not stored: not a regular file inside /pfs")
                return await self._done(task, "success", attempt, col.outputs, got, spent, col)
            if state == "recovered":
                return await self._done(task, "recovered", attempt, {}, got, spent, None)
            return self._failed(task, problem, attempts=task.datum_tries, process_seconds=spent)

    async def _transform(self, slot: Slot, task: DatumTask, env: dict[str, str], redact: Redactor
                         ) -> tuple[str, int, float, str]:  # fmt: skip
        """Up to `datum_tries` runs, then `err_cmd`: (success|recovered|failed, attempt, seconds, problem)."""
        tr = task.transform
        argv = [slot.rewrite(a) for a in tr.cmd]
        cwd = slot.rewrite(tr.working_dir) if tr.working_dir else None
        stdin = "".join(slot.rewrite(s) + "\n" for s in tr.stdin).encode() if tr.stdin else None
        accept = {0, *tr.accept_return_code}
        spent = 0.0
        problem = ""
        for attempt in range(1, task.datum_tries + 1):
            if attempt > 1:
                await slot.reset_out()
            outcome = await self._run(slot, task, attempt, argv, env, cwd, stdin, redact)
            spent += outcome.seconds
            if outcome.code in accept:
                return "success", attempt, spent, ""
            problem = _describe(outcome, task.datum_timeout)
            self._system(task, attempt, f"attempt {attempt} of {task.datum_tries} failed: {problem}")
        if tr.err_cmd:
            err_argv = [slot.rewrite(a) for a in tr.err_cmd]
            err_in = "".join(slot.rewrite(s) + "\n" for s in tr.err_stdin).encode() if tr.err_stdin else None
            outcome = await self._run(slot, task, task.datum_tries, err_argv, env, cwd, err_in, redact)
            spent += outcome.seconds
            if outcome.code in accept:
                self._system(task, task.datum_tries, "err_cmd succeeded: the datum is recovered")
                return "recovered", task.datum_tries, spent, ""
            problem += f"; err_cmd failed: {_describe(outcome, task.datum_timeout)}"
        return "failed", task.datum_tries, spent, problem

    async def _run(self, slot: Slot, task: DatumTask, attempt: int, argv: list[str], env: dict[str, str],
                   cwd: str | None, stdin: bytes | None, redact: Redactor) -> Outcome:  # fmt: skip
        def on_line(stream: str, text: str) -> None:
            self.t.shipper.add(LogLine(pipeline=task.pipeline, job=task.job, datum_id=task.datum_id,
                                       attempt=attempt, stream=stream,
                                       ts=datetime.now(UTC), message=redact(text)))  # fmt: skip

        return await step("process", slot.run(argv, env, cwd, stdin, on_line, timeout=task.datum_timeout,
                          kill_grace=self.t.settings.kill_grace, max_line=self.t.settings.max_line))  # fmt: skip

    def _system(self, task: DatumTask, attempt: int, text: str) -> None:
        self.t.shipper.add(LogLine(pipeline=task.pipeline, job=task.job, datum_id=task.datum_id, attempt=attempt,
                                   stream="system", ts=datetime.now(UTC), message=text))  # fmt: skip

    async def _done(self, task: DatumTask, state: str, attempts: int, outputs: dict[str, Any], got: Any,
                    spent: float, col: Any) -> DatumDone:  # fmt: skip
        ref = None
        if len(outputs) > self.t.settings.inline_outputs:
            data = {p: c.model_dump(mode="json") for p, c in outputs.items()}
            ref = await self.t.store.write_bytes(json.dumps(data, separators=(",", ":")).encode())
            outputs = {}
        return DatumDone(
            pipeline=task.pipeline, job=task.job, datum_id=task.datum_id, state=state,
            attempts=attempts, generation=task.generation, outputs=outputs, outputs_ref=ref, worker=self.t.name,
            datum_hash=task.datum_hash, inputs=task.inputs,  # the exact files it read, for lineage
            download_seconds=got.seconds, process_seconds=spent, upload_seconds=col.seconds if col else 0.0,
            download_bytes=got.bytes, upload_bytes=col.bytes if col else 0,
        )  # fmt: skip

    async def _secrets(self, task: DatumTask) -> dict[str, dict[str, str]]:
        if not task.transform.secrets:
            return {}
        reply = await self.t.bus.request(ResolveSecrets(job=task.job), timeout=10.0)
        assert isinstance(reply, SecretValues)
        return reply.secrets


async def _place_secrets(slot: Slot, task: DatumTask, values: dict[str, dict[str, str]]
                         ) -> tuple[dict[str, str], dict[str, str]]:  # fmt: skip
    env: dict[str, str] = {}
    dirs: dict[str, str] = {}
    mount_index = 0
    for ref in task.transform.secrets:
        keys = values.get(ref.name, {})
        if ref.key is not None and ref.key not in keys:
            raise DatumError(f"secret {ref.name!r} has no key {ref.key!r}")
        if ref.env_var:
            env[ref.env_var] = keys[ref.key or ""]
        if ref.mount_path:
            host, seen = slot.secret_path(mount_index, ref.mount_path)
            mount_index += 1
            chosen = {ref.key: keys[ref.key]} if ref.key else keys

            def write(host: Path = host, chosen: dict[str, str] = chosen) -> None:
                host.mkdir(parents=True, exist_ok=True)
                for k, v in chosen.items():
                    (host / k).write_text(v)

            await asyncio.to_thread(write)
            dirs[ref.name] = seen
    return env, dirs


def _describe(outcome: Outcome, timeout: float | None) -> str:
    if outcome.timed_out:
        return f"timed out after datum_timeout {timeout:g}s"
    if outcome.error:
        return f"could not start: {outcome.error}"
    if outcome.code is not None and outcome.code < 0:
        return f"killed by signal {-outcome.code}"
    return f"exit code {outcome.code}"


async def _heartbeat(msg: Msg, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await _quiet(msg.in_progress())


async def _quiet(aw: Any) -> None:
    try:
        await aw
    except Exception as exc:
        log.debug("task.ack_failed", error=str(exc))
