"""One datum, start to end: inputs in, up to `datum_tries` attempts, `err_cmd`, outputs out, the result event.

The task message is acknowledged only after the result event is stored by JetStream, so a worker killed
at any point leaves the task to be redelivered; the scheduler takes the first result of each datum, so
the datum's outputs enter the job once. A worker stopping (SIGTERM) kills its transforms and naks their
tasks so another worker starts them at once; a task of a job that ended is acknowledged and dropped.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from nats.aio.msg import Msg
from pydantic import ValidationError

from tusk_common.bus import Bus
from tusk_common.errors import TuskError, Unavailable
from tusk_common.events import DatumDone, DatumFailed, Event
from tusk_common.store import ChunkStore
from tusk_common.wire.pipelines import DatumTask, LogLine, ResolveSecrets, SecretValues
from tusk_worker.environment import transform_env
from tusk_worker.jobs import FinishedJobs
from tusk_worker.logship import LogShipper, Redactor
from tusk_worker.metrics import WorkerMetrics
from tusk_worker.runners import Outcome, Runner, Slot
from tusk_worker.settings import WorkerSettings
from tusk_worker.tracing import describe, step
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
        try:
            task = DatumTask.model_validate_json(msg.data)
        except ValidationError as exc:
            log.error("task.invalid", subject=msg.subject, error=str(exc.errors()[:1]))
            await msg.term()
            return
        if self.t.jobs.finished(task.job):
            await msg.ack()
            return
        delivered = msg.metadata.num_delivered or 1
        structlog.contextvars.bind_contextvars(job=task.job, datum=task.datum_id[:12])
        describe(task)
        if delivered > self.t.settings.max_deliveries:
            event: Event = DatumFailed(
                pipeline=task.pipeline, job=task.job, datum_id=task.datum_id, attempts=0,
                generation=task.generation, worker=self.t.name,
                error=f"the datum was handed to workers {delivered - 1} times and none finished it"
                      " (they died or stopped: out of memory?)",
            )  # fmt: skip
            await asyncio.shield(self._finish(msg, task, event, delivered))
            return
        me = asyncio.current_task()
        assert me is not None
        self.t.jobs.track(task.job, me)  # type: ignore[arg-type]
        beat = asyncio.create_task(_heartbeat(msg, max(0.5, ack_wait / 3)))
        try:
            event = await self._execute(task)
        except asyncio.CancelledError:
            if self.t.jobs.finished(task.job):
                me.uncancel()
                await asyncio.shield(_quiet(msg.ack()))
                log.info("datum.dropped", reason="job ended")
                return
            await asyncio.shield(_quiet(msg.nak()))
            raise
        except DatumError as exc:
            event = DatumFailed(pipeline=task.pipeline, job=task.job, datum_id=task.datum_id, attempts=0,
                                generation=task.generation, worker=self.t.name, error=str(exc))  # fmt: skip
        except TuskError as exc:
            if exc.retryable:
                # Our own trouble (store, scheduler unreachable): let another attempt happen later.
                log.warning("datum.retry_later", error=exc.message)
                await asyncio.shield(_quiet(msg.nak(delay=1.0)))
                return
            event = DatumFailed(pipeline=task.pipeline, job=task.job, datum_id=task.datum_id, attempts=0,
                                generation=task.generation, worker=self.t.name, error=exc.message)  # fmt: skip
        finally:
            beat.cancel()
        await asyncio.shield(self._finish(msg, task, event, delivered))

    async def _finish(self, msg: Msg, task: DatumTask, event: Event, delivered: int) -> None:
        event_id = f"{task.job}.{task.datum_id}.{task.generation}.{delivered}"
        for pause in (0.2, 0.5, 1.0, 2.0, None):
            try:
                await self.t.shipper.flush()
                await self.t.bus.publish_event(event, source=f"tusk-worker/{self.t.name}", event_id=event_id)
                await msg.ack()
                log.info("datum.finished", state=getattr(event, "state", "failed"))
                if self.t.metrics is not None:
                    self.t.metrics.datum_finished(event)
                return
            except Unavailable as exc:
                if pause is None:
                    log.warning("datum.result_not_published", error=exc.message)
                    await _quiet(msg.nak(delay=1.0))
                    return
                await asyncio.sleep(pause)

    async def _execute(self, task: DatumTask) -> Event:
        values = await self._secrets(task)
        redact = Redactor(v for keys in values.values() for v in keys.values())
        mounts = tuple(s.mount_path for s in task.transform.secrets if s.mount_path)
        async with self.t.runner.slot(mounts) as slot:
            got = await step("download", materialize(self.t.store, slot, task))
            secret_env, secret_dirs = await _place_secrets(slot, task, values)
            env = transform_env(task, slot, secret_env, secret_dirs)
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
                    col = await step("upload", collect(self.t.store, slot, got.files))
                    for path in col.skipped:
                        self._system(task, attempt, f"output {path} was not stored: not a regular file inside /pfs")
                    return await self._done(task, "success", attempt, col.outputs, got, spent, col)
                problem = _describe(outcome, task.datum_timeout)
                self._system(task, attempt, f"attempt {attempt} of {task.datum_tries} failed: {problem}")
            if tr.err_cmd:
                err_argv = [slot.rewrite(a) for a in tr.err_cmd]
                err_in = "".join(slot.rewrite(s) + "\n" for s in tr.err_stdin).encode() if tr.err_stdin else None
                outcome = await self._run(slot, task, task.datum_tries, err_argv, env, cwd, err_in, redact)
                spent += outcome.seconds
                if outcome.code in accept:
                    self._system(task, task.datum_tries, "err_cmd succeeded: the datum is recovered")
                    return await self._done(task, "recovered", task.datum_tries, {}, got, spent, None)
                problem += f"; err_cmd failed: {_describe(outcome, task.datum_timeout)}"
            return DatumFailed(pipeline=task.pipeline, job=task.job, datum_id=task.datum_id,
                               attempts=task.datum_tries, generation=task.generation, worker=self.t.name,
                               error=problem, process_seconds=spent)  # fmt: skip

    async def _run(self, slot: Slot, task: DatumTask, attempt: int, argv: list[str], env: dict[str, str],
                   cwd: str | None, stdin: bytes | None, redact: Redactor) -> Outcome:  # fmt: skip
        def on_line(stream: str, text: str) -> None:
            self.t.shipper.add(LogLine(pipeline=task.pipeline, job=task.job, datum_id=task.datum_id,
                                       attempt=attempt, stream=stream,  # type: ignore[arg-type]
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
            pipeline=task.pipeline, job=task.job, datum_id=task.datum_id, state=state,  # type: ignore[arg-type]
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

            def write(host=host, chosen=chosen) -> None:  # type: ignore[no-untyped-def]
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
