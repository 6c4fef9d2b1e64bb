"""NATS RPC handlers of `tusk.rpc.scheduler.*`: one use case each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tusk_common.wire import pipelines as w
from tusk_common.wire.base import Empty, Request, Wire
from tusk_scheduler import datums, jobs, logs, pipelines, secrets
from tusk_scheduler.deps import Deps


def handlers(deps: Deps) -> Mapping[type[Request], Callable[[Any], Awaitable[Wire]]]:
    async def create_pipeline(r: w.CreatePipeline) -> w.CreatePipelineReply:
        return await pipelines.create_pipeline(deps, r)

    async def inspect_pipeline(r: w.InspectPipeline) -> w.PipelineInfo:
        return await pipelines.inspect_pipeline(deps, r.name, history=r.history)

    async def list_pipelines(_r: w.ListPipelines) -> w.PipelineList:
        return await pipelines.list_pipelines(deps)

    async def delete_pipeline(r: w.DeletePipeline) -> Empty:
        await pipelines.delete_pipeline(deps, r.name, keep_repo=r.keep_repo, force=r.force)
        return Empty()

    async def stop_pipeline(r: w.StopPipeline) -> w.PipelineInfo:
        return await pipelines.set_state(deps, r.name, "paused")

    async def start_pipeline(r: w.StartPipeline) -> w.PipelineInfo:
        return await pipelines.set_state(deps, r.name, "running")

    async def list_jobs(r: w.ListJobs) -> w.JobList:
        return await jobs.list_jobs(deps, r.pipeline, r.commit_set, r.limit, r.cursor)

    async def inspect_job(r: w.InspectJob) -> w.JobInfo:
        return await jobs.inspect_job(deps, r.pipeline, r.job)

    async def wait_job(r: w.WaitJob) -> w.JobInfo:
        return await jobs.wait_job(deps, r.pipeline, r.job, r.timeout)

    async def stop_job(r: w.StopJob) -> w.JobInfo:
        return await jobs.stop_job(deps, r.pipeline, r.job, r.reason)

    async def wait_commit_set(r: w.WaitCommitSet) -> w.CommitSetStatus:
        return await jobs.wait_commit_set(deps, r.commit_set, r.commit, r.timeout)

    async def list_datums(r: w.ListDatums) -> w.DatumList:
        return await datums.list_datums(deps, r.pipeline, r.job, r.state, r.limit, r.cursor, outputs=r.outputs)

    async def inspect_datum(r: w.InspectDatum) -> w.DatumInfo:
        return await datums.inspect_datum(deps, r.pipeline, r.job, r.datum, outputs=r.outputs)

    async def restart_datum(r: w.RestartDatum) -> w.DatumInfo:
        return await datums.restart_datum(deps, r.pipeline, r.job, r.datum)

    async def pending_datums(r: w.PendingDatums) -> w.PendingDatumIds:
        return await datums.pending(deps, r.job, r.datums)

    async def get_logs(r: w.GetLogs) -> w.LogPage:
        return await logs.get(deps, r.pipeline, r.job, r.datum, r.tail, r.limit, r.cursor)

    async def append_logs(r: w.AppendLogs) -> w.Stored:
        return await logs.append(deps, r.lines)

    async def create_secret(r: w.CreateSecret) -> w.SecretInfo:
        return await secrets.create_secret(deps, r.secret, r.update)

    async def inspect_secret(r: w.InspectSecret) -> w.SecretInfo:
        return await secrets.inspect_secret(deps, r.name)

    async def list_secrets(_r: w.ListSecrets) -> w.SecretList:
        return await secrets.list_secrets(deps)

    async def delete_secret(r: w.DeleteSecret) -> Empty:
        await secrets.delete_secret(deps, r.name)
        return Empty()

    async def resolve_secrets(r: w.ResolveSecrets) -> w.SecretValues:
        return await secrets.resolve(deps, r.job)

    table: dict[type[Request], Callable[[Any], Awaitable[Wire]]] = {
        w.CreatePipeline: create_pipeline, w.InspectPipeline: inspect_pipeline, w.ListPipelines: list_pipelines,
        w.DeletePipeline: delete_pipeline, w.StopPipeline: stop_pipeline, w.StartPipeline: start_pipeline,
        w.ListJobs: list_jobs, w.InspectJob: inspect_job, w.WaitJob: wait_job, w.StopJob: stop_job,
        w.WaitCommitSet: wait_commit_set, w.ListDatums: list_datums, w.InspectDatum: inspect_datum,
        w.RestartDatum: restart_datum, w.PendingDatums: pending_datums, w.GetLogs: get_logs, w.AppendLogs: append_logs,
        w.CreateSecret: create_secret, w.InspectSecret: inspect_secret, w.ListSecrets: list_secrets,
        w.DeleteSecret: delete_secret, w.ResolveSecrets: resolve_secrets,
    }  # fmt: skip
    assert set(table) == set(w.ALL_REQUESTS), "every request of the contract has a handler"
    return table
