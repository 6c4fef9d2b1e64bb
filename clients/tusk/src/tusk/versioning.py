"""Repos, branches and commits: the SDK methods over `/api/v1/repos/...`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from tusk import routes
from tusk.transport import Transport
from tusk_common.errors import Unavailable
from tusk_common.naming import check_name, split_ref
from tusk_common.wire.versioning import (
    BranchInfo,
    BranchList,
    CommitInfo,
    CommitList,
    RepoInfo,
    RepoList,
)

WAIT_POLL_SECONDS = 60.0
"""Longest single wait request; a longer wait is a series of them, so no proxy idles the socket out."""


class VersioningMethods:
    _t: Transport

    # ------------------------------------------------------------------ repos

    def create_repo(self, name: str, description: str = "", *, update: bool = False) -> RepoInfo:
        """Create a repo (or, with `update=True`, change an existing repo's description)."""
        check_name(name, field="repo")
        body = {"name": name, "description": description, "update": update}
        return RepoInfo.model_validate(self._t.json("POST", routes.repos(), json=body))

    def inspect_repo(self, name: str) -> RepoInfo:
        return RepoInfo.model_validate(self._t.json("GET", routes.repo(check_name(name, field="repo"))))

    def list_repos(self) -> list[RepoInfo]:
        return RepoList.model_validate(self._t.json("GET", routes.repos())).repos

    def delete_repo(self, name: str, *, force: bool = False) -> None:
        params = {"force": "true"} if force else None
        self._t.request("DELETE", routes.repo(check_name(name, field="repo")), params=params)

    # --------------------------------------------------------------- branches

    def create_branch(self, repo: str, name: str, head: str | None = None) -> BranchInfo:
        """Create branch `name`, pointing at `head` (a ref in the same repo) or empty."""
        check_name(name, field="branch")
        body: dict[str, Any] = {"name": name}
        if head is not None:
            split_ref(head, field="head")
            body["head"] = head
        return BranchInfo.model_validate(self._t.json("POST", routes.branches(_repo(repo)), json=body))

    def inspect_branch(self, repo: str, name: str) -> BranchInfo:
        check_name(name, field="branch")
        return BranchInfo.model_validate(self._t.json("GET", routes.branch(_repo(repo), name)))

    def list_branches(self, repo: str) -> list[BranchInfo]:
        return BranchList.model_validate(self._t.json("GET", routes.branches(_repo(repo)))).branches

    def delete_branch(self, repo: str, name: str, *, force: bool = False) -> None:
        check_name(name, field="branch")
        params = {"force": "true"} if force else None
        self._t.request("DELETE", routes.branch(_repo(repo), name), params=params)

    # ---------------------------------------------------------------- commits

    def start_commit(
        self, repo: str, branch: str, *, parent: str | None = None, description: str = ""
    ) -> CommitInfo:
        """Open a commit on `branch` (parent: the branch head unless `parent` names another ref)."""
        check_name(branch, field="branch")
        body: dict[str, Any] = {"branch": branch, "description": description}
        if parent is not None:
            split_ref(parent, field="parent")
            body["parent"] = parent
        return CommitInfo.model_validate(self._t.json("POST", routes.commits(_repo(repo)), json=body))

    def finish_commit(self, repo: str, ref: str, *, description: str | None = None) -> CommitInfo:
        body = {} if description is None else {"description": description}
        url = routes.commit(_repo(repo), _ref(ref), "finish")
        return CommitInfo.model_validate(self._t.json("POST", url, json=body))

    def inspect_commit(self, repo: str, ref: str) -> CommitInfo:
        return CommitInfo.model_validate(self._t.json("GET", routes.commit(_repo(repo), _ref(ref))))

    def list_commits(
        self, repo: str, branch: str | None = None, *, limit: int | None = None, page_size: int = 100
    ) -> Iterator[CommitInfo]:
        """Commits of `repo` (or of `branch`'s ancestry), newest first; fetched page by page."""
        params: dict[str, Any] = {}
        if branch is not None:
            params["branch"] = check_name(branch, field="branch")
        items = self._pages(routes.commits(_repo(repo)), params, CommitList, "commits", page_size)
        for count, item in enumerate(items):
            if limit is not None and count >= limit:
                return
            yield item

    def wait_commit(self, repo: str, ref: str, *, timeout: float | None = None) -> CommitInfo:
        """Block until the commit (and everything downstream of it) is finished.

        Without `timeout` this waits as long as it takes; with one, `Unavailable` is raised when it passes.
        """
        url = routes.commit(_repo(repo), _ref(ref), "wait")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = WAIT_POLL_SECONDS
            if deadline is not None:
                step = min(step, deadline - time.monotonic())
                if step <= 0:
                    raise Unavailable(f"commit {repo}@{ref} did not finish within {timeout:g}s", timeout=timeout)
            response = self._t.request(
                "GET", url, params={"timeout": f"{step:.3f}"}, passthrough=(408,), timeout=step + 30
            )
            if response.status_code != 408:
                return CommitInfo.model_validate(response.json())

    def squash_commit(self, repo: str, ref: str) -> None:
        """Fold the commit's changes into its children (see `tusk squash commit`)."""
        self._t.request("POST", routes.commit(_repo(repo), _ref(ref), "squash"))

    def delete_commit(self, repo: str, ref: str) -> None:
        self._t.request("DELETE", routes.commit(_repo(repo), _ref(ref)))

    # ----------------------------------------------------------------- paging

    def _pages(
        self, url: str, params: dict[str, Any], model: type[BaseModel], key: str, page_size: int
    ) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            query = {**params, "limit": page_size}
            if cursor:
                query["cursor"] = cursor
            page = model.model_validate_json(self._t.request("GET", url, params=query).content)
            yield from getattr(page, key)
            cursor = getattr(page, "next_cursor", None)
            if not cursor:
                return


def _repo(name: str) -> str:
    return check_name(name, field="repo")


def _ref(ref: str) -> str:
    split_ref(ref)
    return ref
