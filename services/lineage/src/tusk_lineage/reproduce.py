"""`tusk reproduce`: the exact input commits and pipeline versions that made a commit, recursively to the
user commits; with `run`, the last step run again and compared file by file.

The re-run pins every input of the job to its exact commit with a scratch branch (`repro-<id>`) in each
input repo, creates a scratch pipeline (`<pipeline>-r<id>`, output repo of the same name) from the spec
of the version that made the commit, waits for its job, and compares the two output commits by content.
Scratch pipeline and branches are deleted afterwards unless `keep`.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

from tusk_common.errors import Conflict, NotFound, TuskError
from tusk_common.wire import lineage as wl
from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v
from tusk_lineage import graphs
from tusk_lineage.deps import Deps


async def plan(deps: Deps, req: wl.Reproduce) -> wl.ReproducePlan:
    c = await graphs.resolve_commit(deps, req.repo, req.ref)
    g = await graphs.commit_graph(deps, c, "upstream", wl.MAX_DEPTH)
    adj = g.adjacency("upstream")
    steps: list[wl.ReproduceStep] = []
    async with deps.pool.acquire() as conn:
        for node, _ in g.walk(g.root or "", "upstream"):
            if node.kind != "commit":
                continue
            jobs = [k for k in adj.get(node.key, ()) if g.nodes[k].kind == "job"]
            for jk in jobs:
                job = g.nodes[jk]
                pv = job.pipeline_version or wl.PipelineVersionRef(pipeline=job.pipeline or "", version=0)
                spec = await conn.fetchval(
                    "SELECT spec FROM pipeline_versions WHERE pipeline = $1 AND version = $2", pv.pipeline, pv.version
                )
                steps.append(wl.ReproduceStep(
                    repo=node.repo or "", commit=node.commit or "", commit_set=node.commit_set or "",
                    job=job.job or "", job_state=job.state, pipeline_version=pv,
                    inputs=[g.nodes[k] for k in adj.get(jk, ())], spec=spec,
                ))  # fmt: skip
    roots = [n for n in g.roots() if n.kind == "commit"]
    out = wl.ReproducePlan(repo=c.repo, commit=c.commit, user_commit=not steps, steps=steps, roots=roots)
    if req.run:
        if not steps:
            raise Conflict(f"{c.repo}@{c.commit} was made by a user, not by a pipeline: nothing to re-run",
                           repo=c.repo, commit=c.commit)  # fmt: skip
        out = out.model_copy(update={"check": await rerun(deps, steps[0], keep=req.keep, wait=req.timeout)})
    return out


def scratch_spec(spec: dict[str, Any], name: str, branches: dict[tuple[str, str], str]) -> dict[str, Any]:
    """The spec with a new name and every pfs input reading its scratch branch (cron cannot be pinned)."""
    out = copy.deepcopy(spec)
    out["pipeline"] = {**dict(out.get("pipeline") or {}), "name": name}

    def pin(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("cron"):
                raise Conflict("a cron input cannot be pinned to past commits: this step cannot be re-run")
            pfs = node.get("pfs")
            if isinstance(pfs, dict):
                key = (pfs["repo"], pfs.get("branch") or "master")
                if key in branches:
                    pfs["branch"] = branches[key]
            for value in node.values():
                pin(value)
        elif isinstance(node, list):
            for item in node:
                pin(item)

    pin(out.get("input"))
    out.pop("output_branch", None)
    return out


async def rerun(deps: Deps, step: wl.ReproduceStep, *, keep: bool, wait: float) -> wl.ReproduceCheck:
    if step.spec is None:
        raise NotFound(
            f"the spec of {step.pipeline_version.pipeline} version {step.pipeline_version.version} is unknown"
            " (its pipeline was deleted before the lineage service read it)", pipeline=step.pipeline_version.pipeline,
        )  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    name = f"{step.pipeline_version.pipeline[:50]}-r{tag}"
    branch = f"repro-{tag}"
    async with deps.pool.acquire() as conn:
        job_inputs = await conn.fetchval("SELECT inputs FROM jobs WHERE id = $1", step.job) or []
    pinned: dict[tuple[str, str], str] = {}
    made: list[tuple[str, str]] = []
    call = deps.sources.call
    check = wl.ReproduceCheck(scratch_pipeline=name, scratch_repo=name)
    try:
        for repo, br, commit in job_inputs:
            if commit is None:
                continue
            await call(v.CreateBranch(repo=repo, name=branch, head=commit))
            made.append((repo, branch))
            pinned[(repo, br)] = branch
        reply = await call(w.CreatePipeline(spec=scratch_spec(step.spec, name, pinned)))
        job_id = reply.job
        if job_id is None:
            jobs = await call(w.ListJobs(pipeline=name, limit=1))
            job_id = jobs.jobs[0].id if jobs.jobs else None
        if job_id is None:
            raise Conflict(f"the scratch pipeline {name} made no job", pipeline=name)
        job = await call(w.WaitJob(pipeline=name, job=job_id, timeout=min(wait, 3600)), wait=wait + 5)
        check = check.model_copy(update={"job": job.id, "job_state": job.state, "scratch_commit": job.output_commit})
        if job.output_commit is not None:
            check = check.model_copy(update=await _compare(deps, step.repo, step.commit, name, job.output_commit))
    finally:
        if not keep:
            check = check.model_copy(update={"cleaned_up": await _cleanup(deps, name, made)})
    return check


async def _compare(deps: Deps, repo: str, commit: str, scratch: str, scratch_commit: str) -> dict[str, Any]:
    a, b = await asyncio.gather(deps.sources.files_below(repo, commit, "/"),
                                deps.sources.files_below(scratch, scratch_commit, "/"))  # fmt: skip
    old = {p: h for p, h, _ in a}
    new = {p: h for p, h, _ in b}
    same = sorted(p for p in old if new.get(p) == old[p])
    differing = sorted(p for p in old if p in new and new[p] != old[p])
    missing = sorted(p for p in old if p not in new)
    extra = sorted(p for p in new if p not in old)
    return {"same": len(same), "differing": differing, "missing": missing, "extra": extra,
            "identical": not (differing or missing or extra)}  # fmt: skip


async def _cleanup(deps: Deps, pipeline: str, branches: list[tuple[str, str]]) -> bool:
    ok = True
    try:
        await deps.sources.call(w.DeletePipeline(name=pipeline, force=True))
    except NotFound:
        pass
    except TuskError:
        ok = False
    for repo, branch in branches:
        try:
            await deps.sources.call(v.DeleteBranch(repo=repo, name=branch, force=True))
        except NotFound:
            pass
        except TuskError:
            ok = False
    return ok

