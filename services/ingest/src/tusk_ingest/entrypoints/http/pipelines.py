"""`/api/v1/pipelines`, `/api/v1/jobs`, `/api/v1/commitsets`, `/api/v1/secrets`: the scheduler's API.

Each handler builds one scheduler request (`tusk_common.wire.pipelines`), sends it over the bus through
the versioning client's generic `call` (one NATS connection per process), and renders the reply.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from tusk_common.bus import validation_to_invalid
from tusk_common.errors import Invalid
from tusk_common.wire import pipelines as w
from tusk_common.wire.base import Empty, Request
from tusk_ingest.auth import Action
from tusk_ingest.entrypoints.http import params, state
from tusk_ingest.entrypoints.http.routes import PAGE, Param, Route, q_bool, q_int, q_str

WAIT_SLACK = 5.0
TAG = "pipelines"


class CreatePipelineBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spec: dict[str, Any] = Field(description="a Pachyderm pipeline spec, decoded from JSON or YAML")
    update: bool = False
    reprocess: bool = False
    keep_outputs: bool = False
    dry_run: bool = False


class CreateSecretBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: dict[str, Any] = Field(description="a Kubernetes-Secret-like document")
    update: bool = False


def _build(req_type: type[Request], **fields: Any) -> Request:
    from pydantic import ValidationError

    try:
        return req_type(**fields)
    except ValidationError as exc:
        raise validation_to_invalid(exc) from exc


async def _call(request: web.Request, req: Request, *, within: float | None = None) -> Any:
    return await state.deps(request).versioning.call(req, rpc_timeout=within)


def _name(request: web.Request, key: str = "pipeline") -> str:
    return params.name(request, key, key)


def _timeout(request: web.Request, default: float = 60.0) -> float:
    return params.number(request, "timeout", default, hi=3600.0)


# ---------------------------------------------------------------- pipelines


async def create_pipeline(request: web.Request) -> web.Response:
    body = await params.body(request, CreatePipelineBody)
    reply = await _call(request, _build(w.CreatePipeline, **body.model_dump()))
    return params.reply(reply, 201 if reply.created else 200)


async def list_pipelines(request: web.Request) -> web.Response:
    return params.reply(await _call(request, w.ListPipelines()))


async def inspect_pipeline(request: web.Request) -> web.Response:
    req = w.InspectPipeline(name=_name(request), history=params.flag(request, "history"))
    return params.reply(await _call(request, req))


async def delete_pipeline(request: web.Request) -> web.Response:
    await _call(request, w.DeletePipeline(name=_name(request), keep_repo=params.flag(request, "keep_repo"),
                                          force=params.flag(request, "force")))  # fmt: skip
    return params.no_content()


async def stop_pipeline(request: web.Request) -> web.Response:
    return params.reply(await _call(request, w.StopPipeline(name=_name(request))))


async def start_pipeline(request: web.Request) -> web.Response:
    return params.reply(await _call(request, w.StartPipeline(name=_name(request))))


# ---------------------------------------------------------------- jobs and datums


async def list_jobs(request: web.Request) -> web.Response:
    pipeline = request.match_info.get("pipeline") or params.text(request, "pipeline")
    req = _build(w.ListJobs, pipeline=pipeline, commit_set=params.text(request, "commit_set"),
                 limit=params.integer(request, "limit", 100), cursor=params.text(request, "cursor"))  # fmt: skip
    return params.reply(await _call(request, req))


async def inspect_job(request: web.Request) -> web.Response:
    return params.reply(await _call(request, w.InspectJob(pipeline=_name(request), job=_job(request))))


async def wait_job(request: web.Request) -> web.Response:
    timeout = _timeout(request)
    req = w.WaitJob(pipeline=_name(request), job=_job(request), timeout=timeout)
    return params.reply(await _call(request, req, within=timeout + WAIT_SLACK))


async def stop_job(request: web.Request) -> web.Response:
    return params.reply(await _call(request, w.StopJob(pipeline=_name(request), job=_job(request))))


async def list_datums(request: web.Request) -> web.Response:
    req = _build(w.ListDatums, pipeline=_name(request), job=_job(request), state=params.text(request, "state"),
                 limit=params.integer(request, "limit", 1000), cursor=params.text(request, "cursor"))  # fmt: skip
    return params.reply(await _call(request, req))


async def inspect_datum(request: web.Request) -> web.Response:
    req = w.InspectDatum(pipeline=_name(request), job=_job(request), datum=request.match_info["datum"])
    return params.reply(await _call(request, req))


async def restart_datum(request: web.Request) -> web.Response:
    req = w.RestartDatum(pipeline=_name(request), job=_job(request), datum=request.match_info["datum"])
    return params.reply(await _call(request, req))


async def get_logs(request: web.Request) -> web.Response:
    tail = params.text(request, "tail")
    req = _build(w.GetLogs, pipeline=_name(request), job=params.text(request, "job"),
                 datum=params.text(request, "datum"), tail=int(tail) if tail and tail.isdigit() else None,
                 limit=params.integer(request, "limit", 1000), cursor=params.text(request, "cursor"))  # fmt: skip
    if tail and not tail.isdigit():
        raise Invalid("tail must be a positive integer", field="tail")
    return params.reply(await _call(request, req))


async def wait_commit_set(request: web.Request) -> web.Response:
    timeout = _timeout(request)
    req = _build(w.WaitCommitSet, commit_set=request.match_info["commit_set"], repo=params.text(request, "repo"),
                 commit=params.text(request, "commit"), timeout=timeout)  # fmt: skip
    return params.reply(await _call(request, req, within=timeout + WAIT_SLACK))


def _job(request: web.Request) -> str:
    job = request.match_info["job"]
    if not job or len(job) > 64 or not job.isalnum():
        raise Invalid(f"job {job!r} is not a job or commit set id", field="job")
    return job


# ---------------------------------------------------------------- secrets


async def create_secret(request: web.Request) -> web.Response:
    body = await params.body(request, CreateSecretBody)
    return params.reply(await _call(request, w.CreateSecret(secret=body.secret, update=body.update)), 201)


async def list_secrets(request: web.Request) -> web.Response:
    return params.reply(await _call(request, w.ListSecrets()))


async def inspect_secret(request: web.Request) -> web.Response:
    return params.reply(await _call(request, w.InspectSecret(name=_name(request, "secret"))))


async def delete_secret(request: web.Request) -> web.Response:
    reply = await _call(request, w.DeleteSecret(name=_name(request, "secret")))
    assert isinstance(reply, Empty)
    return params.no_content()


def _r(method: str, path: str, handler: Any, op: str, summary: str, action: Action, **kw: Any) -> Route:
    return Route(method, path, handler, op, summary, kw.pop("tag", TAG), action, **kw)


TIMEOUT = Param("timeout", {"type": "number", "exclusiveMinimum": 0, "maximum": 3600}, "seconds to wait")
P = "/pipelines/{pipeline}"
J = P + "/jobs/{job}"
ROUTES = (
    _r("POST", "/pipelines", create_pipeline, "createPipeline", "Create, update or dry-run a pipeline",
       Action.REPO_CREATE, status=201, body=CreatePipelineBody, reply=w.CreatePipelineReply, errors=(400, 404, 409, 503)),
    _r("GET", "/pipelines", list_pipelines, "listPipelines", "List pipelines", Action.REPO_LIST,
       reply=w.PipelineList, errors=(503,)),
    _r("GET", P, inspect_pipeline, "inspectPipeline", "Inspect a pipeline", Action.REPO_READ,
       reply=w.PipelineInfo, query=(q_bool("history", "include every version of the spec"),)),
    _r("DELETE", P, delete_pipeline, "deletePipeline", "Delete a pipeline (and its output repo)", Action.REPO_DELETE,
       status=204, query=(q_bool("keep_repo", "keep the output repo"), q_bool("force", "even when others read it")),
       errors=(400, 404, 409, 503)),
    _r("POST", P + "/stop", stop_pipeline, "stopPipeline", "Pause a pipeline", Action.REPO_WRITE,
       reply=w.PipelineInfo),
    _r("POST", P + "/start", start_pipeline, "startPipeline", "Resume a pipeline", Action.REPO_WRITE,
       reply=w.PipelineInfo),
    _r("GET", "/jobs", list_jobs, "listJobs", "List jobs (newest first)", Action.REPO_LIST, reply=w.JobList,
       query=(q_str("pipeline", "only this pipeline's"), q_str("commit_set", "only this commit set's"), *PAGE)),
    _r("GET", P + "/jobs", list_jobs, "listPipelineJobs", "List a pipeline's jobs", Action.REPO_READ,
       reply=w.JobList, query=(q_str("commit_set", "only this commit set's"), *PAGE)),
    _r("GET", J, inspect_job, "inspectJob", "Inspect a job (by job or commit set id)", Action.REPO_READ,
       reply=w.JobInfo),
    _r("GET", J + "/wait", wait_job, "waitJob", "Wait for a job to finish", Action.REPO_READ, reply=w.JobInfo,
       query=(TIMEOUT,)),
    _r("POST", J + "/stop", stop_job, "stopJob", "Stop a job", Action.REPO_WRITE, reply=w.JobInfo,
       errors=(400, 404, 409, 503)),
    _r("GET", J + "/datums", list_datums, "listDatums", "List a job's datums", Action.REPO_READ,
       reply=w.DatumList, query=(q_str("state", "only datums in this state"), *PAGE)),
    _r("GET", J + "/datums/{datum}", inspect_datum, "inspectDatum", "Inspect a datum", Action.REPO_READ,
       reply=w.DatumInfo),
    _r("POST", J + "/datums/{datum}/restart", restart_datum, "restartDatum", "Send a running datum again",
       Action.REPO_WRITE, reply=w.DatumInfo, errors=(400, 404, 409, 503)),
    _r("GET", P + "/logs", get_logs, "getLogs", "Transform output lines", Action.REPO_READ, reply=w.LogPage,
       query=(q_str("job", "job or commit set id"), q_str("datum", "datum id (or prefix)"),
              q_int("tail", "only the last N lines", maximum=100_000), *PAGE)),
    _r("GET", "/commitsets/{commit_set}/wait", wait_commit_set, "waitCommitSet",
       "Wait until every job of a commit set, and downstream, has finished", Action.REPO_READ,
       reply=w.CommitSetStatus, query=(q_str("repo", "repo of the commit waited for"),
                                       q_str("commit", "the commit waited for"), TIMEOUT)),
    _r("POST", "/secrets", create_secret, "createSecret", "Create (or update) a secret", Action.REPO_CREATE,
       tag="secrets", status=201, body=CreateSecretBody, reply=w.SecretInfo, errors=(400, 409, 412, 503)),
    _r("GET", "/secrets", list_secrets, "listSecrets", "List secrets (names and keys only)", Action.REPO_LIST,
       tag="secrets", reply=w.SecretList, errors=(503,)),
    _r("GET", "/secrets/{secret}", inspect_secret, "inspectSecret", "Inspect a secret (keys only)",
       Action.REPO_READ, tag="secrets", reply=w.SecretInfo),
    _r("DELETE", "/secrets/{secret}", delete_secret, "deleteSecret", "Delete a secret", Action.REPO_DELETE,
       tag="secrets", status=204, errors=(400, 404, 409, 503)),
)  # fmt: skip
