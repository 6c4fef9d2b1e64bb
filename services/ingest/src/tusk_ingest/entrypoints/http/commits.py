"""`/api/v1/repos/{repo}/commits`: start, list, inspect, finish, wait for, squash and delete commits."""

from __future__ import annotations

import time

from aiohttp import web

from tusk_common import naming
from tusk_common.errors import Unavailable
from tusk_common.wire.versioning import CommitInfo, CommitList
from tusk_ingest.auth import Action
from tusk_ingest.entrypoints.http import params, state
from tusk_ingest.entrypoints.http.models import FinishCommitBody, StartCommitBody
from tusk_ingest.entrypoints.http.routes import PAGE, Param, Route, q_str


class WaitTimedOut(Unavailable):
    """The commit did not finish within the wait's timeout."""

    http_status = 408


async def start_commit(request: web.Request) -> web.Response:
    repo = params.repo(request)
    body = await params.body(request, StartCommitBody)
    naming.check_name(body.branch, field="branch")
    if body.parent is not None:
        naming.split_ref(body.parent, field="parent")
    info = await state.deps(request).versioning.start_commit(repo, body.branch, body.parent, body.description)
    return params.reply(info, 201)


async def list_commits(request: web.Request) -> web.Response:
    repo = params.repo(request)
    branch = params.text(request, "branch")
    if branch is not None:
        naming.check_name(branch, field="branch")
    page = await state.deps(request).versioning.list_commits(
        repo, branch, params.integer(request, "limit", 100), params.text(request, "cursor")
    )
    return params.reply(page)


async def inspect_commit(request: web.Request) -> web.Response:
    repo, ref = params.repo(request), params.ref(request)
    return params.reply(await state.deps(request).versioning.inspect_commit(repo, ref))


async def finish_commit(request: web.Request) -> web.Response:
    repo, ref = params.repo(request), params.ref(request)
    body = await params.body(request, FinishCommitBody)
    return params.reply(await state.deps(request).versioning.finish_commit(repo, ref, body.description))


async def wait_commit(request: web.Request) -> web.Response:
    repo, ref = params.repo(request), params.ref(request)
    deps = state.deps(request)
    limit = deps.settings.max_wait_seconds
    timeout = params.number(request, "timeout", limit, hi=limit)
    started = time.monotonic()
    try:
        info = await deps.versioning.wait_commit(repo, ref, timeout)
    except Unavailable as exc:
        # Outages fail fast (no connection, no responder); an answer after the whole wait is a timeout.
        if time.monotonic() - started < timeout:
            raise
        raise WaitTimedOut(f"commit {ref} did not finish within {timeout:g}s", field="timeout",
                           repo=repo, ref=ref) from exc
    return params.reply(info)


async def squash_commit(request: web.Request) -> web.Response:
    repo, ref = params.repo(request), params.ref(request)
    await state.deps(request).versioning.squash_commit(repo, ref)
    return params.no_content()


async def delete_commit(request: web.Request) -> web.Response:
    repo, ref = params.repo(request), params.ref(request)
    await state.deps(request).versioning.delete_commit(repo, ref)
    return params.no_content()


_C = "/repos/{repo}/commits"
_TIMEOUT = Param("timeout", {"type": "number", "exclusiveMinimum": 0}, "seconds to wait (408 after)")

ROUTES = (
    Route("POST", _C, start_commit, "startCommit", "Start a commit on a branch", "commits",
          Action.REPO_WRITE, status=201, body=StartCommitBody, reply=CommitInfo,
          errors=(400, 404, 409, 503)),
    Route("GET", _C, list_commits, "listCommits", "List commits, newest first", "commits",
          Action.REPO_READ, reply=CommitList, query=(q_str("branch", "only this branch's ancestry"), *PAGE)),
    Route("GET", _C + "/{ref}", inspect_commit, "inspectCommit", "Inspect a commit", "commits",
          Action.REPO_READ, reply=CommitInfo),
    Route("POST", _C + "/{ref}/finish", finish_commit, "finishCommit", "Finish an open commit", "commits",
          Action.REPO_WRITE, body=FinishCommitBody, reply=CommitInfo, errors=(400, 404, 409, 503)),
    Route("GET", _C + "/{ref}/wait", wait_commit, "waitCommit", "Wait until a commit is finished",
          "commits", Action.REPO_READ, reply=CommitInfo, query=(_TIMEOUT,), errors=(400, 404, 408, 503)),
    Route("POST", _C + "/{ref}/squash", squash_commit, "squashCommit",
          "Squash a commit into its children", "commits", Action.REPO_WRITE, status=204,
          errors=(400, 404, 409, 503)),
    Route("DELETE", _C + "/{ref}", delete_commit, "deleteCommit", "Delete a commit", "commits",
          Action.REPO_WRITE, status=204, errors=(400, 404, 409, 503)),
)
