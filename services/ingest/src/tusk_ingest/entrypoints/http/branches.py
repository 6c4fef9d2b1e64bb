"""`/api/v1/repos/{repo}/branches`: create, list, inspect and delete branches."""

from __future__ import annotations

from aiohttp import web

from tusk_common import naming
from tusk_common.wire.versioning import BranchInfo, BranchList
from tusk_ingest.auth import Action
from tusk_ingest.entrypoints.http import params, state
from tusk_ingest.entrypoints.http.models import CreateBranchBody
from tusk_ingest.entrypoints.http.routes import Route, q_bool


async def create_branch(request: web.Request) -> web.Response:
    repo = params.repo(request)
    body = await params.body(request, CreateBranchBody)
    naming.check_name(body.name, field="name")
    if body.head is not None:
        naming.split_ref(body.head, field="head")
    info = await state.deps(request).versioning.create_branch(repo, body.name, body.head)
    return params.reply(info, 201)


async def list_branches(request: web.Request) -> web.Response:
    return params.reply(await state.deps(request).versioning.list_branches(params.repo(request)))


async def inspect_branch(request: web.Request) -> web.Response:
    repo, branch = params.repo(request), params.name(request, "branch", "branch")
    return params.reply(await state.deps(request).versioning.inspect_branch(repo, branch))


async def delete_branch(request: web.Request) -> web.Response:
    repo, branch = params.repo(request), params.name(request, "branch", "branch")
    await state.deps(request).versioning.delete_branch(repo, branch, params.flag(request, "force"))
    return params.no_content()


_B = "/repos/{repo}/branches"

ROUTES = (
    Route("POST", _B, create_branch, "createBranch", "Create a branch (or move it with `head`)",
          "branches", Action.REPO_WRITE, status=201, body=CreateBranchBody, reply=BranchInfo,
          errors=(400, 404, 409, 503)),
    Route("GET", _B, list_branches, "listBranches", "List the branches of a repo", "branches",
          Action.REPO_READ, reply=BranchList),
    Route("GET", _B + "/{branch}", inspect_branch, "inspectBranch", "Inspect a branch", "branches",
          Action.REPO_READ, reply=BranchInfo),
    Route("DELETE", _B + "/{branch}", delete_branch, "deleteBranch", "Delete a branch", "branches",
          Action.REPO_WRITE, status=204, query=(q_bool("force", "delete even with an open head commit"),),
          errors=(400, 404, 409, 503)),
)
