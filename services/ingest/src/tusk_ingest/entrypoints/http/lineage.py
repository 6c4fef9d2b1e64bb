"""`/api/v1/lineage`: provenance of a commit or a file, of a commit set, and `reproduce` (lineage service RPC).

`commit-sets` is a reserved first segment: `/lineage/commit-sets/{id}` is routed before
`/lineage/{repo}/{ref}`, so a repo of that name cannot be asked about here (use its commit ids over RPC).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from tusk_common import naming
from tusk_common.errors import Invalid
from tusk_common.wire import lineage as wl
from tusk_common.wire.base import Request
from tusk_ingest.auth import Action
from tusk_ingest.entrypoints.http import params, state
from tusk_ingest.entrypoints.http.models import Body
from tusk_ingest.entrypoints.http.routes import Param, Route

_DIRECTIONS = ("upstream", "downstream")
_FORMATS = ("json", "tree", "dot", "mermaid")


class ReproduceBody(Body):
    run: bool = Field(True, description="run the last step again into a scratch pipeline and compare")
    keep: bool = Field(False, description="keep the scratch pipeline and branches afterwards")
    timeout: float = Field(600.0, gt=0, le=86_400, description="seconds to wait for the re-run")


def _choice(request: web.Request, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.text(request, key, default) or default
    if value not in allowed:
        raise Invalid(f"{key} must be one of {', '.join(allowed)}, not {value!r}", field=key)
    return value


def _repo_ref(request: web.Request) -> tuple[str, str]:
    repo = naming.check_name(request.match_info["repo"], field="repo")
    ref = request.match_info["ref"]
    naming.split_ref(ref, field="ref")
    return repo, ref


async def _call(request: web.Request, req: Request, rpc_timeout: float | None = None) -> web.Response:
    return params.reply(await state.deps(request).versioning.call(req, rpc_timeout=rpc_timeout))


async def query_lineage(request: web.Request) -> web.Response:
    repo, ref = _repo_ref(request)
    path = params.text(request, "path")
    req = wl.QueryLineage(
        repo=repo, ref=ref, path=naming.normalize_path(path, field="path") if path else None,
        direction=_choice(request, "direction", _DIRECTIONS, "upstream"),
        depth=params.integer(request, "depth", 10, lo=1, hi=wl.MAX_DEPTH),
        format=_choice(request, "format", _FORMATS, "json"),
    )  # fmt: skip
    return await _call(request, req)


async def commit_set_lineage(request: web.Request) -> web.Response:
    commit_set = request.match_info["commit_set"]
    if not naming.is_commit_id(commit_set):
        raise Invalid(f"commit set {commit_set!r} is not a commit set id (32 hex digits)", field="commit_set")
    fmt = _choice(request, "format", _FORMATS, "json")
    return await _call(request, wl.CommitSetLineage(commit_set=commit_set, format=fmt))


async def reproduce_plan(request: web.Request) -> web.Response:
    repo, ref = _repo_ref(request)
    return await _call(request, wl.Reproduce(repo=repo, ref=ref))


async def reproduce_run(request: web.Request) -> web.Response:
    repo, ref = _repo_ref(request)
    body = await params.body(request, ReproduceBody)
    req = wl.Reproduce(repo=repo, ref=ref, run=body.run, keep=body.keep, timeout=body.timeout)
    return await _call(request, req, rpc_timeout=body.timeout + 30)


_L = "/lineage"
_FMT = Param("format", {"type": "string", "enum": list(_FORMATS), "default": "json"},
             "json: the graph only; tree, dot, mermaid: also `rendered` text")  # fmt: skip
_QUERY = (
    Param("path", {"type": "string"}, "a file (or directory) path in the commit; omitted: the commit itself"),
    Param("direction", {"type": "string", "enum": list(_DIRECTIONS), "default": "upstream"},
          "upstream: what it came from; downstream: what was derived from it"),
    Param("depth", {"type": "integer", "minimum": 1, "maximum": wl.MAX_DEPTH, "default": 10},
          "hops to follow (a hop is one pipeline step)"),
    _FMT,
)  # fmt: skip

ROUTES = (
    Route("GET", _L + "/commit-sets/{commit_set}", commit_set_lineage, "getCommitSetLineage",
          "Every commit and job of one commit set", "lineage", Action.REPO_READ, reply=wl.LineageReply,
          query=(_FMT,)),
    Route("GET", _L + "/{repo}/{ref}", query_lineage, "getLineage",
          "Provenance of a commit or a file, upstream or downstream", "lineage", Action.REPO_READ,
          reply=wl.LineageReply, query=_QUERY,
          description="Files are identified per commit: a path asked at a commit is the version it has there."),
    Route("GET", _L + "/{repo}/{ref}/reproduce", reproduce_plan, "getReproducePlan",
          "The exact inputs and pipeline versions that made a commit", "lineage", Action.REPO_READ,
          reply=wl.ReproducePlan),
    Route("POST", _L + "/{repo}/{ref}/reproduce", reproduce_run, "reproduce",
          "Run the step that made a commit again, into a scratch pipeline, and compare", "lineage",
          Action.REPO_WRITE, body=ReproduceBody, reply=wl.ReproducePlan, errors=(400, 404, 409, 503)),
)
