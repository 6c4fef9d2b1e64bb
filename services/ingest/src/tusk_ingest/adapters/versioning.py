"""A thin typed client of the versioning service over NATS request/reply.

Each method builds the request model (a pydantic error becomes `Invalid` naming the field, so a bad
`limit` fails here, not on the far side) and returns the reply model or raises the typed error the
versioning service raised. When NATS is disconnected the call fails at once with `Unavailable` instead
of waiting out the RPC timeout in the reconnect buffer.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from tusk_common.bus import Bus, validation_to_invalid
from tusk_common.errors import Unavailable
from tusk_common.wire import versioning as v
from tusk_common.wire.base import Request

R = TypeVar("R", bound=Request)


def _build(req_type: type[R], **fields: Any) -> R:
    try:
        return req_type(**fields)
    except ValidationError as exc:
        raise validation_to_invalid(exc) from exc


class VersioningClient:
    """Every versioning RPC the edge uses, one method each."""

    def __init__(self, bus: Bus, *, wait_slack: float = 5.0) -> None:
        self._bus = bus
        self._wait_slack = wait_slack

    async def call(self, req: Request, *, rpc_timeout: float | None = None) -> Any:
        """Send one request; returns `req.REPLY`."""
        if not self._bus.nc.is_connected:
            raise Unavailable("the NATS connection is down; versioning cannot be reached")
        return await self._bus.request(req, timeout=rpc_timeout)

    # ---------------------------------------------------------------- repos

    async def create_repo(self, name: str, description: str = "", update: bool = False) -> v.RepoInfo:
        return await self.call(_build(v.CreateRepo, name=name, description=description, update=update))

    async def inspect_repo(self, name: str) -> v.RepoInfo:
        return await self.call(_build(v.InspectRepo, name=name))

    async def list_repos(self) -> v.RepoList:
        return await self.call(_build(v.ListRepos))

    async def delete_repo(self, name: str, force: bool = False) -> None:
        await self.call(_build(v.DeleteRepo, name=name, force=force))

    # ---------------------------------------------------------------- branches

    async def create_branch(self, repo: str, name: str, head: str | None = None) -> v.BranchInfo:
        return await self.call(_build(v.CreateBranch, repo=repo, name=name, head=head))

    async def inspect_branch(self, repo: str, name: str) -> v.BranchInfo:
        return await self.call(_build(v.InspectBranch, repo=repo, name=name))

    async def list_branches(self, repo: str) -> v.BranchList:
        return await self.call(_build(v.ListBranches, repo=repo))

    async def delete_branch(self, repo: str, name: str, force: bool = False) -> None:
        await self.call(_build(v.DeleteBranch, repo=repo, name=name, force=force))

    # ---------------------------------------------------------------- commits

    async def start_commit(
        self, repo: str, branch: str, parent: str | None = None, description: str = ""
    ) -> v.CommitInfo:
        return await self.call(
            _build(v.StartCommit, repo=repo, branch=branch, parent=parent, description=description)
        )

    async def finish_commit(self, repo: str, ref: str, description: str | None = None) -> v.CommitInfo:
        return await self.call(_build(v.FinishCommit, repo=repo, ref=ref, description=description))

    async def inspect_commit(self, repo: str, ref: str) -> v.CommitInfo:
        return await self.call(_build(v.InspectCommit, repo=repo, ref=ref))

    async def list_commits(
        self, repo: str, branch: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> v.CommitList:
        return await self.call(_build(v.ListCommits, repo=repo, branch=branch, limit=limit, cursor=cursor))

    async def wait_commit(self, repo: str, ref: str, seconds: float) -> v.CommitInfo:
        req = _build(v.WaitCommit, repo=repo, ref=ref, timeout=seconds)
        # The RPC itself must outlive the wait it asks for.
        return await self.call(req, rpc_timeout=req.timeout + self._wait_slack)

    async def squash_commit(self, repo: str, ref: str) -> None:
        await self.call(_build(v.SquashCommit, repo=repo, ref=ref))

    async def delete_commit(self, repo: str, ref: str) -> None:
        await self.call(_build(v.DeleteCommit, repo=repo, ref=ref))

    # ---------------------------------------------------------------- files

    async def put_files(
        self, repo: str, ref: str, changes: list[v.FileChange], description: str = ""
    ) -> v.PutResult:
        return await self.call(
            _build(v.PutFiles, repo=repo, ref=ref, changes=changes, description=description)
        )

    async def copy_file(
        self, *, src_repo: str, src_ref: str, src_path: str, dst_repo: str, dst_ref: str, dst_path: str,
        description: str = "",
    ) -> v.PutResult:
        return await self.call(_build(
            v.CopyFile, src_repo=src_repo, src_ref=src_ref, src_path=src_path,
            dst_repo=dst_repo, dst_ref=dst_ref, dst_path=dst_path, description=description,
        ))

    async def inspect_file(self, repo: str, ref: str, path: str) -> v.FileInfo:
        return await self.call(_build(v.InspectFile, repo=repo, ref=ref, path=path))

    async def list_files(
        self, repo: str, ref: str, path: str = "/", *, recursive: bool = False, limit: int = 1000,
        cursor: str | None = None,
    ) -> v.FileList:
        return await self.call(_build(
            v.ListFiles, repo=repo, ref=ref, path=path, recursive=recursive, limit=limit, cursor=cursor
        ))

    async def glob_files(
        self, repo: str, ref: str, pattern: str, *, limit: int = 1000, cursor: str | None = None
    ) -> v.FileList:
        return await self.call(_build(
            v.GlobFiles, repo=repo, ref=ref, pattern=pattern, limit=limit, cursor=cursor
        ))

    async def diff_files(
        self, repo: str, ref: str, *, base: str | None = None, path: str = "/", limit: int = 1000,
        cursor: str | None = None,
    ) -> v.DiffList:
        return await self.call(_build(
            v.DiffFiles, repo=repo, ref=ref, base=base, path=path, limit=limit, cursor=cursor
        ))
