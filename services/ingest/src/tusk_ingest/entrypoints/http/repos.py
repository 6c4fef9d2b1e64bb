"""`/api/v1/repos`: create, list, inspect and delete repos."""

from __future__ import annotations

from aiohttp import web

from tusk_common import naming
from tusk_common.wire.versioning import RepoInfo, RepoList
from tusk_ingest.auth import Action
from tusk_ingest.entrypoints.http import params, state
from tusk_ingest.entrypoints.http.models import CreateRepoBody
from tusk_ingest.entrypoints.http.routes import Route, q_bool


async def create_repo(request: web.Request) -> web.Response:
    body = await params.body(request, CreateRepoBody)
    naming.check_name(body.name, field="name")
    info = await state.deps(request).versioning.create_repo(body.name, body.description, body.update)
    return params.reply(info, 201)


async def list_repos(request: web.Request) -> web.Response:
    return params.reply(await state.deps(request).versioning.list_repos())


async def inspect_repo(request: web.Request) -> web.Response:
    return params.reply(await state.deps(request).versioning.inspect_repo(params.repo(request)))


async def delete_repo(request: web.Request) -> web.Response:
    await state.deps(request).versioning.delete_repo(params.repo(request), params.flag(request, "force"))
    return params.no_content()


ROUTES = (
    Route("POST", "/repos", create_repo, "createRepo", "Create a repo", "repos", Action.REPO_CREATE,
          status=201, body=CreateRepoBody, reply=RepoInfo, errors=(400, 409, 503)),
    Route("GET", "/repos", list_repos, "listRepos", "List repos", "repos", Action.REPO_LIST,
          reply=RepoList, errors=(503,)),
    Route("GET", "/repos/{repo}", inspect_repo, "inspectRepo", "Inspect a repo", "repos", Action.REPO_READ,
          reply=RepoInfo),
    Route("DELETE", "/repos/{repo}", delete_repo, "deleteRepo", "Delete a repo", "repos", Action.REPO_DELETE,
          status=204, query=(q_bool("force", "delete even when other repos' commits depend on it"),),
          errors=(400, 404, 409, 503)),
)
