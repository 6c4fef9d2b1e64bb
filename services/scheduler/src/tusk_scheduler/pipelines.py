"""Use cases on pipelines: create and update (versioned specs), dry runs, inspect, list, stop, start, delete."""

from __future__ import annotations

import asyncio
import contextlib
import secrets as pysecrets
from datetime import UTC, datetime
from typing import Any

import structlog

from tusk_common.errors import AlreadyExists, Conflict, Invalid, NotFound, TuskError
from tusk_common.events import PipelineCreated, PipelineDeleted, PipelineUpdated
from tusk_common.outbox import enqueue
from tusk_common.wire.pipelines import (
    CreatePipeline,
    CreatePipelineReply,
    DatumInputInfo,
    PipelineInfo,
    PipelineList,
    PlannedDatum,
)
from tusk_scheduler import lifecycle
from tusk_scheduler.adapters import catalog
from tusk_scheduler.adapters.locks import pipeline_lock
from tusk_scheduler.deps import Deps
from tusk_scheduler.domain.cron import parse_cron
from tusk_scheduler.domain.dag import check_no_cycle, input_repos
from tusk_scheduler.domain.spec import PipelineSpec, spec_from_dict
from tusk_scheduler.jobs import create_job
from tusk_scheduler.planning import (
    Trees,
    cron_inputs,
    current_inputs,
    datum_inputs,
    expand,
    input_branches,
    load_trees,
    pfs_inputs,
)
from tusk_scheduler.records import job_info, pipeline_info, version_info

log = structlog.get_logger(__name__)


async def create_pipeline(deps: Deps, req: CreatePipeline) -> CreatePipelineReply:
    spec = spec_from_dict(req.spec)
    name = spec.name
    async with deps.pool.acquire() as conn:
        existing = await catalog.get_pipeline(conn, name)
        dag = await catalog.all_inputs(conn)
    if existing is not None and not req.update and not req.dry_run:
        raise AlreadyExists(f"pipeline {name!r} already exists: use `tusk update pipeline`", pipeline=name)
    if existing is None and req.update:
        raise NotFound(f"pipeline {name!r} not found: use `tusk create pipeline`", pipeline=name)
    if req.keep_outputs and req.reprocess:
        raise Invalid("reprocess and keep_outputs contradict each other: choose one", field="keep_outputs")
    dag.pop(name, None)
    check_no_cycle(dag, name, input_repos(spec))
    await _check_references(deps, spec, new=existing is None)
    if req.dry_run:
        return await _dry_run(deps, spec, existing, req)
    if existing is None:
        return await _create(deps, spec)
    return await _update(deps, spec, existing, req)


async def _check_references(deps: Deps, spec: PipelineSpec, *, new: bool) -> None:
    for field, pfs in pfs_inputs(spec.input):
        if not await deps.versioning.repo_exists(pfs.repo):
            raise Invalid(f"{field}.repo: input repo {pfs.repo!r} does not exist", field=f"{field}.repo")
    async with deps.pool.acquire() as conn:
        known = {r["name"] for r in await conn.fetch("SELECT name FROM secrets")}
    for i, ref in enumerate(spec.transform.secrets):
        if ref.name not in known:
            f = f"transform.secrets[{i}].name"
            raise Invalid(f"{f}: secret {ref.name!r} does not exist (`tusk create secret`)", field=f)
    if new and await deps.versioning.repo_exists(spec.name):
        raise AlreadyExists(
            f"a repo named {spec.name!r} already exists: the pipeline's output repo would take its name",
            field="pipeline.name",
        )


def _spec_doc(spec: PipelineSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude_none=True)


def _inputs(spec: PipelineSpec) -> tuple[list[str], list[list[str]]]:
    return sorted(input_repos(spec)), [list(b) for b in input_branches(spec.input)]


async def _create(deps: Deps, spec: PipelineSpec) -> CreatePipelineReply:
    name = spec.name
    for cron in cron_inputs(spec.input):
        await deps.versioning.ensure_repo(cron.repo, f"cron ticks of pipeline {name} ({cron.spec})")
    await deps.versioning.create_repo(name, spec.description or f"output of pipeline {name}")
    repos, branches = _inputs(spec)
    try:
        await deps.versioning.set_repo_users(name, repos, name)
        async with deps.pool.acquire() as conn, conn.transaction():
            await catalog.insert_pipeline(conn, name, input_repos=repos, inputs=branches,
                                          output_branch=spec.output_branch)  # fmt: skip
            th = spec.transform_hash()
            await catalog.insert_version(conn, name, 1, spec=_spec_doc(spec), spec_hash=spec.spec_hash(),
                                         transform_hash=th, datum_transform_hash=th, salt=spec.salt or "",
                                         reprocess=False, keep_outputs=False)  # fmt: skip
            await _init_cron(conn, spec)
            await enqueue(conn, PipelineCreated(pipeline=name, version=1, spec_hash=spec.spec_hash(),
                                                input_repos=repos, output_repo=name), source=deps.source)  # fmt: skip
    except BaseException:
        await deps.versioning.set_repo_users(name, [], None)
        await deps.versioning.delete_repo(name)
        raise
    await deps.tasks.ensure_consumer(name, spec.parallelism)
    job = await _first_job(deps, spec)
    log.info("pipeline.created", pipeline=name, job=job)
    return CreatePipelineReply(pipeline=await inspect_pipeline(deps, name), created=True, job=job)


async def _init_cron(conn: Any, spec: PipelineSpec) -> None:
    now = datetime.now(UTC)
    for cron in cron_inputs(spec.input):
        first = parse_cron(cron.spec).next_after(cron.start or now)
        await conn.execute(
            "INSERT INTO cron_state (pipeline, input, next_tick) VALUES ($1, $2, $3)"
            " ON CONFLICT (pipeline, input) DO UPDATE SET next_tick = excluded.next_tick",
            spec.name, cron.name, first,
        )  # fmt: skip


async def _first_job(deps: Deps, spec: PipelineSpec) -> str | None:
    """A job on the current input heads, when any input has a commit."""
    heads = await current_inputs(deps, spec)
    if not any(i.commit for i in heads):
        return None
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await create_job(conn, deps, spec.name)
    if row is None:
        return None
    deps.kick(spec.name)
    return str(row["id"])


async def _update(deps: Deps, spec: PipelineSpec, existing: Any, req: CreatePipeline) -> CreatePipelineReply:
    name = spec.name
    for cron in cron_inputs(spec.input):
        await deps.versioning.ensure_repo(cron.repo, f"cron ticks of pipeline {name} ({cron.spec})")
    repos, branches = _inputs(spec)
    await deps.versioning.set_repo_users(name, repos, name)
    async with deps.pool.acquire() as conn, conn.transaction():
        current = await catalog.get_pipeline(conn, name, lock=True)
        if current is None:
            raise NotFound(f"pipeline {name!r} not found", pipeline=name)
        prev = await catalog.require_version(conn, name, current["version"])
        version = current["version"] + 1
        th = spec.transform_hash()
        datum_th = prev["datum_transform_hash"] if req.keep_outputs else th
        nonce = prev["salt"].partition("|")[2]
        if req.reprocess:
            nonce = pysecrets.token_hex(8)
        salt = (spec.salt or "") + (f"|{nonce}" if nonce else "")
        await catalog.insert_version(conn, name, version, spec=_spec_doc(spec), spec_hash=spec.spec_hash(),
                                     transform_hash=th, datum_transform_hash=datum_th, salt=salt,
                                     reprocess=req.reprocess, keep_outputs=req.keep_outputs)  # fmt: skip
        await catalog.bump_pipeline(conn, name, version, input_repos=repos, inputs=branches,
                                    output_branch=spec.output_branch)  # fmt: skip
        await _init_cron(conn, spec)
        await enqueue(conn, PipelineUpdated(pipeline=name, version=version, spec_hash=spec.spec_hash(),
                                            state=current["state"], reprocess=req.reprocess,
                                            keep_outputs=req.keep_outputs), source=deps.source)  # fmt: skip
    await deps.tasks.ensure_consumer(name, spec.parallelism)
    job = await _first_job(deps, spec)
    log.info("pipeline.updated", pipeline=name, version=version, job=job)
    return CreatePipelineReply(pipeline=await inspect_pipeline(deps, name), created=False, job=job)


async def _dry_run(deps: Deps, spec: PipelineSpec, existing: Any, req: CreatePipeline) -> CreatePipelineReply:
    heads = await current_inputs(deps, spec)
    trees: Trees = await load_trees(deps.versioning, heads)
    th = spec.transform_hash()
    salt = spec.salt or ""
    if existing is not None:
        async with deps.pool.acquire() as conn:
            prev = await catalog.require_version(conn, spec.name, existing["version"])
        if req.keep_outputs:
            th = prev["datum_transform_hash"]
        nonce = prev["salt"].partition("|")[2]
        salt += f"|{nonce}" if nonce and not req.reprocess else ""
    datums = expand(spec, {"datum_transform_hash": th, "salt": salt}, trees)
    planned = [
        PlannedDatum(datum_id=d.datum_id, datum_hash=d.datum_hash,
                     inputs=[DatumInputInfo.model_validate(i) for i in datum_inputs(d)])
        for d in datums[: req.dry_run_limit]
    ]  # fmt: skip
    return CreatePipelineReply(datums=planned, datum_count=len(datums))


async def inspect_pipeline(deps: Deps, name: str, *, history: bool = False) -> PipelineInfo:
    async with deps.pool.acquire() as conn:
        row = await catalog.get_pipeline(conn, name)
        if row is None:
            raise NotFound(f"pipeline {name!r} not found", pipeline=name)
        version = await catalog.require_version(conn, name, row["version"])
        last = await catalog.last_job(conn, name)
        versions = [version_info(v) for v in await catalog.list_versions(conn, name)] if history else []
    return pipeline_info(row, version["spec"], last_job=job_info(last) if last else None, versions=versions)


async def list_pipelines(deps: Deps) -> PipelineList:
    out = []
    async with deps.pool.acquire() as conn:
        for row in await catalog.list_pipelines(conn):
            version = await catalog.require_version(conn, row["name"], row["version"])
            last = await catalog.last_job(conn, row["name"])
            out.append(pipeline_info(row, version["spec"], last_job=job_info(last) if last else None))
    return PipelineList(pipelines=out)


async def set_state(deps: Deps, name: str, state: str) -> PipelineInfo:
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await catalog.set_pipeline_state(conn, name, state)
        if row is None:
            raise NotFound(f"pipeline {name!r} not found", pipeline=name)
        version = await catalog.require_version(conn, name, row["version"])
        await enqueue(conn, PipelineUpdated(pipeline=name, version=row["version"],
                                            spec_hash=version["spec_hash"], state=state), source=deps.source)  # fmt: skip
    if state == "running":
        deps.kick(name)
    return await inspect_pipeline(deps, name)


async def delete_pipeline(deps: Deps, name: str, *, keep_repo: bool, force: bool) -> None:
    async with deps.pool.acquire() as conn:
        row = await catalog.get_pipeline(conn, name)
        if row is None:
            raise NotFound(f"pipeline {name!r} not found", pipeline=name)
        readers = [r for r in await catalog.readers_of(conn, name) if r != name]
        version = await catalog.require_version(conn, name, row["version"])
    if readers and not force:
        raise Conflict(
            f"pipeline(s) {', '.join(readers)} read the output of {name!r}: delete them first, or force",
            pipeline=name, readers=readers,
        )  # fmt: skip
    spec = spec_from_dict(version["spec"])
    async with pipeline_lock(deps.pool, name, wait=60.0):
        async with deps.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {catalog.JOB_COLUMNS} FROM jobs WHERE pipeline = $1 AND state = ANY($2::text[])",
                name, list(catalog.NOT_DONE),
            )  # fmt: skip
        for job in rows:
            await lifecycle.kill_job(deps, job, "the pipeline was deleted")
        async with deps.pool.acquire() as conn, conn.transaction():
            await catalog.delete_pipeline(conn, name)
            await enqueue(conn, PipelineDeleted(pipeline=name, kept_repo=keep_repo), source=deps.source)
    await deps.tasks.drop(name)
    await deps.versioning.set_repo_users(name, [], None)
    if not keep_repo:
        await deps.versioning.delete_repo(name)
        for cron in cron_inputs(spec.input):
            await deps.versioning.delete_repo(cron.repo)
    log.info("pipeline.deleted", pipeline=name)


async def sync_repo_users(deps: Deps, stopping: asyncio.Event, *, retry: float = 2.0) -> None:
    """Tell versioning, once at start-up, which repos every pipeline reads and writes (pipelines made
    before versioning kept track, or while a `set_users` call was lost). Retries while versioning is away."""
    async with deps.pool.acquire() as conn:
        pipelines = await catalog.all_inputs(conn)
    pending = dict(sorted(pipelines.items()))
    while pending and not stopping.is_set():
        for name, repos in list(pending.items()):
            try:
                await deps.versioning.set_repo_users(name, sorted(repos), name)
            except NotFound as exc:  # an input repo was deleted by force: record what still exists
                log.warning("pipeline.repo_missing", pipeline=name, error=exc.message)
                alive = [r for r in sorted(repos) if await deps.versioning.repo_exists(r)]
                out = name if await deps.versioning.repo_exists(name) else None
                await deps.versioning.set_repo_users(name, alive, out)
            except TuskError as exc:
                if not exc.retryable:
                    raise
                break
            del pending[name]
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), retry)
