"""NATS RPC handlers: parse (the bus already validated the model), call one use case, render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tusk_common.wire import versioning as v
from tusk_common.wire.base import Empty, Request, Wire
from tusk_versioning import branches, commits, files, repos
from tusk_versioning.deps import Deps


def handlers(deps: Deps) -> Mapping[type[Request], Callable[[Any], Awaitable[Wire]]]:
    """One handler per request model of the versioning contract."""

    async def create_repo(r: v.CreateRepo) -> v.RepoInfo:
        return await repos.create_repo(deps, r.name, r.description, r.update)

    async def inspect_repo(r: v.InspectRepo) -> v.RepoInfo:
        return await repos.inspect_repo(deps, r.name)

    async def list_repos(_r: v.ListRepos) -> v.RepoList:
        return v.RepoList(repos=await repos.list_repos(deps))

    async def delete_repo(r: v.DeleteRepo) -> Empty:
        await repos.delete_repo(deps, r.name, r.force)
        return Empty()

    async def set_repo_users(r: v.SetRepoUsers) -> Empty:
        await repos.set_repo_users(deps, r.pipeline, r.inputs, r.output)
        return Empty()

    async def create_branch(r: v.CreateBranch) -> v.BranchInfo:
        return await branches.create_branch(deps, r.repo, r.name, r.head)

    async def inspect_branch(r: v.InspectBranch) -> v.BranchInfo:
        return await branches.inspect_branch(deps, r.repo, r.name)

    async def list_branches(r: v.ListBranches) -> v.BranchList:
        return v.BranchList(branches=await branches.list_branches(deps, r.repo))

    async def delete_branch(r: v.DeleteBranch) -> Empty:
        await branches.delete_branch(deps, r.repo, r.name, r.force)
        return Empty()

    async def start_commit(r: v.StartCommit) -> v.CommitInfo:
        # `commit_set`/`origin` are being added to the contract for pipeline output commits;
        # read them defensively until that change lands everywhere.
        return await commits.start_commit(
            deps, r.repo, r.branch, r.parent, r.description,
            commit_set=getattr(r, "commit_set", None), origin=getattr(r, "origin", "user"),
        )  # fmt: skip

    async def finish_commit(r: v.FinishCommit) -> v.CommitInfo:
        return await commits.finish_commit(deps, r.repo, r.ref, r.description, r.error)

    async def inspect_commit(r: v.InspectCommit) -> v.CommitInfo:
        return await commits.inspect_commit(deps, r.repo, r.ref)

    async def list_commits(r: v.ListCommits) -> v.CommitList:
        return await commits.list_commits(deps, r.repo, r.branch, r.limit, r.cursor)

    async def wait_commit(r: v.WaitCommit) -> v.CommitInfo:
        return await commits.wait_commit(deps, r.repo, r.ref, r.timeout)

    async def squash_commit(r: v.SquashCommit) -> Empty:
        await commits.squash_commit(deps, r.repo, r.ref)
        return Empty()

    async def delete_commit(r: v.DeleteCommit) -> Empty:
        await commits.delete_commit(deps, r.repo, r.ref)
        return Empty()

    async def put_files(r: v.PutFiles) -> v.PutResult:
        return await files.put_files(deps, r.repo, r.ref, r.changes, r.description)

    async def copy_file(r: v.CopyFile) -> v.PutResult:
        return await files.copy_file(
            deps, r.src_repo, r.src_ref, r.src_path, r.dst_repo, r.dst_ref, r.dst_path, r.description
        )

    async def inspect_file(r: v.InspectFile) -> v.FileInfo:
        return await files.inspect_file(deps, r.repo, r.ref, r.path)

    async def list_files(r: v.ListFiles) -> v.FileList:
        return await files.list_files(deps, r.repo, r.ref, r.path, r.recursive, r.limit, r.cursor)

    async def glob_files(r: v.GlobFiles) -> v.FileList:
        return await files.glob_files(deps, r.repo, r.ref, r.pattern, r.limit, r.cursor)

    async def diff_files(r: v.DiffFiles) -> v.DiffList:
        return await files.diff_files(deps, r.repo, r.ref, r.base, r.base_repo, r.path, r.limit, r.cursor)

    table: dict[type[Request], Callable[[Any], Awaitable[Wire]]] = {
        v.CreateRepo: create_repo, v.InspectRepo: inspect_repo, v.ListRepos: list_repos,
        v.DeleteRepo: delete_repo, v.SetRepoUsers: set_repo_users,
        v.CreateBranch: create_branch, v.InspectBranch: inspect_branch,
        v.ListBranches: list_branches, v.DeleteBranch: delete_branch, v.StartCommit: start_commit,
        v.FinishCommit: finish_commit, v.InspectCommit: inspect_commit, v.ListCommits: list_commits,
        v.WaitCommit: wait_commit, v.SquashCommit: squash_commit, v.DeleteCommit: delete_commit,
        v.PutFiles: put_files, v.CopyFile: copy_file, v.InspectFile: inspect_file,
        v.ListFiles: list_files, v.GlobFiles: glob_files, v.DiffFiles: diff_files,
    }  # fmt: skip
    assert set(table) == set(v.ALL_REQUESTS), "every request of the contract has a handler"
    return table
