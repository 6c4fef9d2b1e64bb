"""Pipelines, jobs, datums, logs and secrets: the SDK methods over `/api/v1/pipelines`, `/jobs`,
`/commitsets` and `/secrets` (served by ingest, answered by the scheduler).

`PipelineMethods` is a mixin of `tusk.Client`; `api(client)` gives these methods for any client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tusk import routes
from tusk.transport import Transport
from tusk_common.errors import Invalid, Unavailable
from tusk_common.naming import check_name

if TYPE_CHECKING:
    from tusk_common.wire.pipelines import (
        CommitSetStatus,
        CreatePipelineReply,
        DatumInfo,
        JobInfo,
        LogLine,
        PipelineInfo,
        SecretInfo,
    )


def _wire() -> ModuleType:
    """The scheduler's wire models, imported when first used: every `tusk` command would pay for them."""
    from tusk_common.wire import pipelines

    return pipelines


WAIT_STEP = 60.0  # longest single wait request; longer waits are a series of them
FOLLOW_POLL = 0.5


def load_specs(text: str | bytes) -> list[dict[str, Any]]:
    """The spec documents of a JSON stream or a (multi-document) YAML file, as `tusk create pipeline -f` reads."""
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    docs: list[Any] = []
    if text.lstrip().startswith("{"):
        decoder, pos = json.JSONDecoder(), 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            try:
                doc, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise Invalid(f"the spec is not valid JSON: {exc.msg} at line {exc.lineno}") from None
            docs.append(doc)
    else:
        try:
            import yaml  # only for YAML specs: it costs start-up time otherwise

            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            raise Invalid(f"the spec is not valid YAML: {exc}") from None
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise Invalid("a spec file holds one or more pipeline specs (objects)")
    return docs


def _pipes(name: str = "") -> str:
    return f"{routes.API}/pipelines" + (f"/{routes.segment(check_name(name, field='pipeline'))}" if name else "")


def _job(pipeline: str, job: str, action: str = "") -> str:
    url = f"{_pipes(pipeline)}/jobs/{routes.segment(job)}"
    return f"{url}/{action}" if action else url


class PipelineMethods:
    _t: Transport

    # -------------------------------------------------------------- pipelines

    def create_pipeline(self, spec: dict[str, Any] | str | Path, *, update: bool = False, reprocess: bool = False,
                        keep_outputs: bool = False, dry_run: bool = False) -> list[CreatePipelineReply]:  # fmt: skip
        """Create (or `update`) the pipeline(s) of a spec: a dict, spec text, or a path to a JSON/YAML file."""
        if isinstance(spec, Path):
            docs = load_specs(spec.read_bytes())
        elif isinstance(spec, str):
            docs = load_specs(spec)
        else:
            docs = [spec]
        out = []
        for doc in docs:
            body = {"spec": doc, "update": update, "reprocess": reprocess, "keep_outputs": keep_outputs,
                    "dry_run": dry_run}  # fmt: skip
            out.append(_wire().CreatePipelineReply.model_validate(self._t.json("POST", _pipes(), json=body)))
        return out

    def inspect_pipeline(self, name: str, *, history: bool = False) -> PipelineInfo:
        params = {"history": "true"} if history else None
        return _wire().PipelineInfo.model_validate(self._t.json("GET", _pipes(name), params=params))

    def list_pipelines(self) -> list[PipelineInfo]:
        return _wire().PipelineList.model_validate(self._t.json("GET", _pipes())).pipelines

    def delete_pipeline(self, name: str, *, keep_repo: bool = False, force: bool = False) -> None:
        params = {k: "true" for k, on in (("keep_repo", keep_repo), ("force", force)) if on}
        self._t.request("DELETE", _pipes(name), params=params or None)

    def stop_pipeline(self, name: str) -> PipelineInfo:
        return _wire().PipelineInfo.model_validate(self._t.json("POST", _pipes(name) + "/stop"))

    def start_pipeline(self, name: str) -> PipelineInfo:
        return _wire().PipelineInfo.model_validate(self._t.json("POST", _pipes(name) + "/start"))

    # -------------------------------------------------------------- jobs

    def list_jobs(self, pipeline: str | None = None, *, commit_set: str | None = None,
                  limit: int | None = None) -> list[JobInfo]:  # fmt: skip
        """Jobs, newest first (every page, or the first `limit`)."""
        url = f"{_pipes(pipeline)}/jobs" if pipeline else f"{routes.API}/jobs"
        params: dict[str, Any] = {"limit": min(limit or 1000, 1000)}
        if commit_set:
            params["commit_set"] = commit_set
        jobs: list[JobInfo] = []
        while True:
            page = _wire().JobList.model_validate(self._t.json("GET", url, params=params))
            jobs += page.jobs
            if not page.next_cursor or (limit is not None and len(jobs) >= limit):
                return jobs[:limit] if limit else jobs
            params["cursor"] = page.next_cursor

    def inspect_job(self, pipeline: str, job: str) -> JobInfo:
        """A job by its id or by its commit set."""
        return _wire().JobInfo.model_validate(self._t.json("GET", _job(pipeline, job)))

    def wait_job(self, pipeline: str, job: str, *, timeout: float | None = None) -> JobInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = WAIT_STEP if deadline is None else min(WAIT_STEP, deadline - time.monotonic())
            if step <= 0:
                raise Unavailable(f"job {pipeline}@{job} did not finish within {timeout:g}s")
            try:
                return _wire().JobInfo.model_validate(self._t.json("GET", _job(pipeline, job, "wait"),
                                                           params={"timeout": f"{step:.3f}"}, timeout=step + 30))  # fmt: skip
            except Unavailable:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def stop_job(self, pipeline: str, job: str) -> JobInfo:
        return _wire().JobInfo.model_validate(self._t.json("POST", _job(pipeline, job, "stop")))

    def wait_commit_set(self, commit_set: str, *, repo: str | None = None, commit: str | None = None,
                        timeout: float | None = None) -> CommitSetStatus:  # fmt: skip
        """Wait until every job of the commit set, and everything downstream, has finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        url = f"{routes.API}/commitsets/{routes.segment(commit_set)}/wait"
        while True:
            step = WAIT_STEP if deadline is None else max(0.001, min(WAIT_STEP, deadline - time.monotonic()))
            params = {"timeout": f"{step:.3f}", **({"repo": repo} if repo else {}), **({"commit": commit} if commit else {})}
            status = _wire().CommitSetStatus.model_validate(self._t.json("GET", url, params=params, timeout=step + 30))
            if status.done or (deadline is not None and time.monotonic() >= deadline):
                return status

    # -------------------------------------------------------------- datums

    def list_datums(self, pipeline: str, job: str, *, state: str | None = None) -> list[DatumInfo]:
        params: dict[str, Any] = {"limit": 1000, **({"state": state} if state else {})}
        datums: list[DatumInfo] = []
        while True:
            page = _wire().DatumList.model_validate(self._t.json("GET", _job(pipeline, job, "datums"), params=params))
            datums += page.datums
            if not page.next_cursor:
                return datums
            params["cursor"] = page.next_cursor

    def inspect_datum(self, pipeline: str, job: str, datum: str) -> DatumInfo:
        return _wire().DatumInfo.model_validate(self._t.json("GET", _job(pipeline, job, f"datums/{routes.segment(datum)}")))

    def restart_datum(self, pipeline: str, job: str, datum: str) -> DatumInfo:
        return _wire().DatumInfo.model_validate(
            self._t.json("POST", _job(pipeline, job, f"datums/{routes.segment(datum)}/restart"))
        )

    # -------------------------------------------------------------- logs

    def logs(self, pipeline: str, *, job: str | None = None, datum: str | None = None, tail: int | None = None,
             follow: bool = False) -> Iterator[LogLine]:  # fmt: skip
        """Log lines oldest first; with `follow`, keeps polling for new lines until the caller stops."""
        params: dict[str, Any] = {"limit": 1000}
        for key, value in (("job", job), ("datum", datum), ("tail", tail)):
            if value is not None:
                params[key] = value
        while True:
            page = _wire().LogPage.model_validate(self._t.json("GET", f"{_pipes(pipeline)}/logs", params=params))
            yield from page.lines
            params.pop("tail", None)
            if page.next_cursor:
                params["cursor"] = page.next_cursor
            if len(page.lines) < params["limit"]:
                if not follow:
                    return
                time.sleep(FOLLOW_POLL)

    # -------------------------------------------------------------- secrets

    def create_secret(self, secret: dict[str, Any] | str | Path, *, update: bool = False) -> SecretInfo:
        """Create a secret from a Kubernetes-Secret-like document (a dict, JSON text, or a path)."""
        if isinstance(secret, Path):
            secret = secret.read_text()
        doc = load_specs(secret)[0] if isinstance(secret, str) else secret
        body = {"secret": doc, "update": update}
        return _wire().SecretInfo.model_validate(self._t.json("POST", f"{routes.API}/secrets", json=body))

    def list_secrets(self) -> list[SecretInfo]:
        return _wire().SecretList.model_validate(self._t.json("GET", f"{routes.API}/secrets")).secrets

    def inspect_secret(self, name: str) -> SecretInfo:
        url = f"{routes.API}/secrets/{routes.segment(check_name(name, field='secret'))}"
        return _wire().SecretInfo.model_validate(self._t.json("GET", url))

    def delete_secret(self, name: str) -> None:
        self._t.request("DELETE", f"{routes.API}/secrets/{routes.segment(check_name(name, field='secret'))}")


class _Bound(PipelineMethods):
    def __init__(self, transport: Transport) -> None:
        self._t = transport


def api(client: Any) -> PipelineMethods:
    """The pipeline methods of `client` (a `tusk.Client`, whether or not it mixes them in yet)."""
    if isinstance(client, PipelineMethods):
        return client
    return _Bound(client._t)
