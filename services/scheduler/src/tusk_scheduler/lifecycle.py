"""The steps that move one job: start (open the output commit, plan datums), send tasks, finish, kill.

Each step is run by the pipeline's driver while it holds the pipeline's advisory lock, and each is
safe to repeat after a crash at any point: the output commit is adopted if it is already open, tasks
are rebuilt from the job's recorded input commits and de-duplicated by message id, output changes are
recomputed against the open commit, and every state move is a conditional UPDATE.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from tusk_common.errors import Conflict, NotFound, TuskError
from tusk_common.events import JobFinished
from tusk_common.outbox import enqueue
from tusk_common.wire.pipelines import DatumSetTask, JobInput
from tusk_common.wire.versioning import FileChange, FileContent
from tusk_scheduler.adapters import catalog
from tusk_scheduler.deps import Deps
from tusk_scheduler.domain.datum_sets import cut, set_limits
from tusk_scheduler.domain.incremental import PreviousDatum, merge_outputs, plan
from tusk_scheduler.domain.spec import spec_from_dict
from tusk_scheduler.planning import TaskBuilder, Trees, datum_inputs, expand, input_branches, load_trees
from tusk_scheduler.tracing import job_step

log = structlog.get_logger(__name__)
NOTIFY_JOBS = "tusk_scheduler_jobs"


def finished_event(job: Any) -> JobFinished:
    duration = 0.0
    if job["finished_at"] is not None:
        duration = (job["finished_at"] - (job["started_at"] or job["created_at"])).total_seconds()
    return JobFinished(
        pipeline=job["pipeline"], job=job["id"], pipeline_version=job["pipeline_version"],
        commit_set=job["commit_set"], state=job["state"], reason=job["reason"], output_repo=job["pipeline"],
        output_commit=job["output_commit"], datums_total=job["total"], datums_processed=job["processed"],
        datums_skipped=job["skipped"], datums_failed=job["failed"], datums_recovered=job["recovered"],
        duration_seconds=max(0.0, duration), inputs=[JobInput.model_validate(i) for i in job["inputs"] or []],
    )  # fmt: skip


async def end_job(deps: Deps, job: Any, state: str, reason: str | None, *, frm: tuple[str, ...]) -> Any | None:
    """Move the job to a final state and announce it (in one transaction); None if it already moved."""
    async with deps.pool.acquire() as conn, conn.transaction():
        stats = await catalog.datum_stats(conn, job["id"])
        done = await catalog.move_job(conn, job["id"], frm, state, reason=reason, stats=stats)
        if done is None:
            return None
        await enqueue(conn, finished_event(done), source=deps.source)
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_JOBS, job["id"])
    log.info("job.finished", pipeline=job["pipeline"], job=job["id"], state=state, reason=reason)
    if deps.metrics is not None:
        deps.metrics.job_finished(done)
    return done


# ---------------------------------------------------------------- start


async def open_output_commit(deps: Deps, job: Any) -> str:
    """Start the job's output commit in its commit set; adopt one a crashed step left open."""
    repo, branch = job["pipeline"], job["output_branch"]
    for _ in range(3):
        try:
            c = await deps.versioning.start_commit(
                repo, branch, commit_set=job["commit_set"], description=f"output of job {job['id']}"
            )
            return c.id
        except Conflict as exc:
            open_id = exc.details.get("commit")
            if not open_id:
                raise
            async with deps.pool.acquire() as conn:
                owner = await catalog.job_of_output(conn, open_id)
            if owner is None or owner["id"] == job["id"]:
                return str(open_id)  # our own StartCommit whose reply was lost, or an abandoned commit
            # An earlier job's commit that was never finished (it was killed mid-way): close it as failed.
            await deps.versioning.finish_commit(repo, open_id, error=owner["reason"] or f"job {owner['state']}")
    raise Conflict(f"the output branch {repo}@{branch} keeps having an open commit", repo=repo, branch=branch)


@job_step("start")
async def start_job(deps: Deps, job: Any) -> None:
    async with deps.pool.acquire() as conn:
        version = await catalog.get_version(conn, job["pipeline"], job["pipeline_version"])
    assert version is not None
    spec = spec_from_dict(version["spec"])

    async def read_inputs() -> tuple[list[JobInput], list[str], Trees | None]:
        inputs, problems = await resolve_inputs(deps, job, input_branches(spec.input))
        return inputs, problems, None if problems else await load_trees(deps.versioning, inputs)

    async def previous_records() -> list[Any]:
        async with deps.pool.acquire() as conn:
            base = await catalog.base_job(conn, job["pipeline"], job["seq"])
            return list(await catalog.datum_records(conn, base["id"])) if base is not None else []

    # Opening the output commit, listing the input trees (two versioning calls) and reading the previous
    # job's datums are independent: made at once they cost one wait, not three (this is on the path from
    # a commit to its first datum running). The output commit is recorded before any other error is raised.
    opening = open_output_commit(deps, job) if job["output_commit"] is None else _nothing()
    output, read, earlier = await asyncio.gather(opening, read_inputs(), previous_records(), return_exceptions=True)
    if job["output_commit"] is None:
        if isinstance(output, NotFound):
            await end_job(deps, job, "failure", f"cannot open the output commit: {output.message}", frm=("starting",))
            return
        if isinstance(output, BaseException):
            raise output
        async with deps.pool.acquire() as conn:
            await catalog.set_job_fields(conn, job["id"], output_commit=output)
        job = {**dict(job), "output_commit": output}  # the row as it now is: the driver's lock keeps it so
    if isinstance(read, BaseException):
        raise read
    if isinstance(earlier, BaseException):
        raise earlier
    inputs, problems, trees = read
    if problems:
        reason = "an input commit failed: " + "; ".join(problems)
        await deps.versioning.finish_commit(job["pipeline"], job["output_commit"], error=reason)
        async with deps.pool.acquire() as conn:
            await catalog.set_job_fields(conn, job["id"], inputs=[i.model_dump() for i in inputs])
        await end_job(deps, job, "unrunnable", reason, frm=("starting",))
        return

    assert trees is not None
    datums = expand(spec, version, trees)
    records = earlier
    previous = {r["datum_id"]: PreviousDatum(r["datum_hash"], r["state"], {}) for r in records}
    by_id = {r["datum_id"]: r for r in records}
    decided = plan(datums, previous, spec.reprocess_spec)

    rows: list[dict[str, Any]] = [
        {"datum_id": d.datum_id, "datum_hash": d.datum_hash, "state": "starting", "inputs": datum_inputs(d)}
        for d in decided.run
    ]
    for d in decided.skip:
        old = by_id[d.datum_id]
        rows.append({"datum_id": d.datum_id, "datum_hash": d.datum_hash, "state": "skipped",
                     "inputs": datum_inputs(d), "outputs": old["outputs"] or {},
                     "output_files": old["output_files"], "output_bytes": old["output_bytes"]})  # fmt: skip
    async with deps.pool.acquire() as conn, conn.transaction():
        await catalog.insert_datums(conn, job["id"], rows)
        moved = await catalog.move_job(
            conn, job["id"], "starting", "running" if decided.run else "finishing",
            planned=True, total=len(datums), skipped=len(decided.skip), pending=len(decided.run),
            inputs=[i.model_dump() for i in inputs],
        )  # fmt: skip
        if moved is None:
            raise JobMoved()
    log.info("job.started", pipeline=job["pipeline"], job=job["id"], run=len(decided.run),
             skip=len(decided.skip), removed=len(decided.remove))  # fmt: skip
    if decided.run:
        await send_tasks(deps, moved, version, trees, [(d, 0) for d in decided.run])


async def _nothing() -> None:
    return None


class JobMoved(Exception):
    """The job moved on (it was killed) while a step ran: the step's result is dropped."""


async def resolve_inputs(deps: Deps, job: Any, branches: list[tuple[str, str]]) -> tuple[list[JobInput], list[str]]:
    """The commit each input branch is read at: the trigger commit for its branch, else the newest
    finished commit; and the reasons the job cannot run (an input commit failed)."""
    inputs: list[JobInput] = []
    problems: list[str] = []
    for repo, branch in branches:
        if job["trigger_repo"] == repo and job["trigger_branch"] == branch:
            inputs.append(JobInput(repo=repo, branch=branch, commit=job["trigger_commit"]))
            if job["trigger_error"]:
                problems.append(f"{repo}@{job['trigger_commit']}: {job['trigger_error']}")
            continue
        async with deps.pool.acquire() as conn:
            in_set = await catalog.set_commit(conn, job["commit_set"], repo, branch)
        if in_set is not None:
            # The branch moved in this job's commit set too (the other side of a diamond): read that commit.
            commit = await deps.versioning.inspect_commit(repo, in_set)
            inputs.append(JobInput(repo=repo, branch=branch, commit=commit.id))
            if commit.error:
                problems.append(f"{repo}@{commit.id}: {commit.error}")
            continue
        head = await deps.versioning.finished_head(repo, branch)
        inputs.append(JobInput(repo=repo, branch=branch, commit=head.id if head else None))
        if head is not None and head.error:
            problems.append(f"{repo}@{head.id}: {head.error}")
    return inputs, problems


# ---------------------------------------------------------------- tasks


async def send_tasks(deps: Deps, job: Any, version: Any, trees: Trees, todo: list[tuple[Any, int]]) -> None:
    """Cut the datums into sets (`domain.datum_sets`), publish them a batch at a time, mark them sent."""
    builder = TaskBuilder(deps, job, version, trees)
    s = deps.settings
    todo = sorted(todo, key=lambda t: t[0].datum_id)  # the same datums make the same sets
    number, size_bytes = set_limits(builder.spec.datum_set_spec, len(todo), builder.spec.parallelism,
                                    s.max_set_datums)  # fmt: skip
    # Input sizes are summed only when a byte limit asks for them (a job may have many thousand datums).
    sizes = [builder.input_bytes(d) for d, _ in todo] if size_bytes else [0] * len(todo)
    groups = cut(todo, sizes, number, size_bytes)
    batch: list[tuple[DatumSetTask, bytes]] = []
    held = 0

    async def flush() -> None:
        await deps.tasks.publish(batch)
        async with deps.pool.acquire() as conn:
            await catalog.mark_sent(conn, job["id"], [d.datum_id for t, _ in batch for d in t.datums])
        batch.clear()

    for group in groups:
        tasks = [await builder.build(d, gen) for d, gen in group]
        for one in fit(DatumSetTask.of(tasks), s.max_set_bytes):
            batch.append(one)
            held += len(one[0].datums)
        if held >= s.task_batch:
            await flush()
            held = 0
    if batch:
        await flush()


def fit(task: DatumSetTask, max_bytes: int) -> list[tuple[DatumSetTask, bytes]]:
    """The set with its encoded body, halved until each part fits in `max_bytes` (one datum always goes:
    its input lists beyond `inline_files` already travel through the chunk store)."""
    body = task.model_dump_json(exclude_defaults=True).encode()
    if len(body) <= max_bytes or len(task.datums) == 1:
        return [(task, body)]
    half = len(task.datums) // 2
    return [*fit(task.model_copy(update={"datums": task.datums[:half]}), max_bytes),
            *fit(task.model_copy(update={"datums": task.datums[half:]}), max_bytes)]  # fmt: skip


async def resend_tasks(deps: Deps, job: Any) -> None:
    """Send the tasks of datums still waiting to be sent (after a crash, or `restart datum`)."""
    async with deps.pool.acquire() as conn:
        unsent = await catalog.unsent_datums(conn, job["id"])
    if unsent:  # mostly none: the driver asks at every look at a running job, and a span each would be noise
        await _resend(deps, job, unsent)


@job_step("resend")
async def _resend(deps: Deps, job: Any, unsent: list[Any]) -> None:
    async with deps.pool.acquire() as conn:
        version = await catalog.get_version(conn, job["pipeline"], job["pipeline_version"])
    assert version is not None
    spec = spec_from_dict(version["spec"])
    inputs = [JobInput.model_validate(i) for i in job["inputs"]]
    trees = await load_trees(deps.versioning, inputs)
    by_id = {d.datum_id: d for d in expand(spec, version, trees)}
    todo = [(by_id[r["datum_id"]], r["generation"]) for r in unsent if r["datum_id"] in by_id]
    await send_tasks(deps, job, version, trees, todo)


# ---------------------------------------------------------------- finish


@job_step("finish")
async def finish_job(deps: Deps, job: Any) -> None:
    """Merge the outputs of every current datum into the output commit and finish it."""
    async with deps.pool.acquire() as conn:
        records = await catalog.datum_records(conn, job["id"])
    failed = sorted((r for r in records if r["state"] == "failed"), key=lambda r: r["datum_id"])
    outputs: dict[str, dict[str, Any]] = {
        r["datum_id"]: r["outputs"] or {} for r in records if r["state"] in ("success", "skipped")
    }
    reason: str | None = None
    desired: dict[str, FileContent] | None = {}
    try:
        merge_outputs({d: {p: c["id"] for p, c in o.items()} for d, o in outputs.items()})
    except Conflict as exc:
        reason, desired = exc.message, None
    if desired is not None:
        for o in outputs.values():
            for path, content in o.items():
                desired.setdefault(path, FileContent.model_validate(content))
    if failed and reason is None:
        first = failed[0]
        reason = f"{len(failed)} datum(s) failed; datum {first['datum_id']}: {first['error']}"
    if desired is not None:
        await write_outputs(deps, job, desired)
    await deps.versioning.finish_commit(job["pipeline"], job["output_commit"], error=reason)
    await end_job(deps, job, "failure" if reason else "success", reason, frm=("finishing",))


async def write_outputs(deps: Deps, job: Any, desired: dict[str, FileContent]) -> None:
    """Stage the difference between the open output commit and `desired` (deletes first)."""
    current = await deps.versioning.list_tree(job["pipeline"], job["output_commit"])
    deletes = [FileChange(op="delete", path=p) for p in sorted(current) if p not in desired]
    puts = [
        FileChange(op="put", path=p, content=c)
        for p, c in sorted(desired.items())
        if (cur := current.get(p)) is None or cur.content is None or cur.content.id != c.id
    ]
    if deletes or puts:
        await deps.versioning.put_files(job["pipeline"], job["output_commit"], deletes + puts,
                                        batch=deps.settings.put_batch)  # fmt: skip


# ---------------------------------------------------------------- kill


@job_step("kill")
async def kill_job(deps: Deps, job: Any, reason: str, state: str = "killed") -> Any | None:
    """End a job that has not finished; its output commit is finished as failed."""
    if job["output_commit"] is not None:
        try:
            await deps.versioning.finish_commit(job["pipeline"], job["output_commit"], error=reason)
        except NotFound:
            pass
        except TuskError as exc:
            log.warning("job.kill_commit_failed", job=job["id"], error=exc.message)
            raise
    return await end_job(deps, job, state, reason, frm=catalog.NOT_DONE)
