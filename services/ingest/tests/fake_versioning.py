"""An in-memory versioning service answering the real RPC subjects on a real NATS server.

It follows the contract in `tusk_common.wire.versioning` (and the real service where that is silent):
a new repo has an empty `master`; a write to a branch with an open head stages into it, otherwise it is
one commit finished at once (`atomic`); commit ids are 32 hex; refs take `^N`/`~N`. Trees are flat maps
of path -> FileContent, directories implied. Knobs for failure tests: `fail_puts_after`, `raise_next`.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tusk_common import naming
from tusk_common.bus import Bus
from tusk_common.errors import AlreadyExists, Conflict, NotFound, TuskError, Unavailable
from tusk_common.wire import versioning as v
from tusk_common.wire.base import Empty, Wire


def _glob_regex(pattern: str) -> str:
    """`**` crosses directories, `*` and `?` do not (enough of the real glob for these tests)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i])))
            i += 1
    return "^" + "".join(out) + "$"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Commit:
    id: str
    repo: str
    branch: str | None
    parent: str | None
    description: str
    started_at: datetime
    files: dict[str, v.FileContent]
    finished_at: datetime | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def info(self) -> v.CommitInfo:
        return v.CommitInfo(
            id=self.id, repo=self.repo, branch=self.branch, parent=self.parent, commit_set=self.id,
            description=self.description, state="finished" if self.finished_at else "open",
            started_at=self.started_at, finished_at=self.finished_at,
            size_bytes=sum(c.size for c in self.files.values()), file_count=len(self.files),
        )


@dataclass
class _Repo:
    name: str
    description: str
    created_at: datetime
    branches: dict[str, str | None] = field(default_factory=dict)  # name -> head commit id
    branch_created: dict[str, datetime] = field(default_factory=dict)


class FakeVersioning:
    """Answers every versioning RPC from memory."""

    def __init__(self) -> None:
        self.repos: dict[str, _Repo] = {}
        self.commits: dict[str, _Commit] = {}
        self.calls: list[str] = []  # METHODs in arrival order
        self.fail_puts_after: int | None = None  # PutFiles calls that succeed before one fails
        self.raise_next: TuskError | None = None  # raised by the next request of any kind

    def _wrap(self, handler: Callable[[Any], Awaitable[Wire]]) -> Callable[[Any], Awaitable[Wire]]:
        async def answer(req: Any) -> Wire:
            if self.raise_next is not None:
                exc, self.raise_next = self.raise_next, None
                raise exc
            return await handler(req)

        return answer

    async def serve(self, bus: Bus) -> None:
        await bus.serve({req: self._wrap(handler) for req, handler in {
            v.CreateRepo: self.create_repo, v.InspectRepo: self.inspect_repo, v.ListRepos: self.list_repos,
            v.DeleteRepo: self.delete_repo, v.CreateBranch: self.create_branch,
            v.InspectBranch: self.inspect_branch, v.ListBranches: self.list_branches,
            v.DeleteBranch: self.delete_branch, v.StartCommit: self.start_commit,
            v.FinishCommit: self.finish_commit, v.InspectCommit: self.inspect_commit,
            v.ListCommits: self.list_commits, v.WaitCommit: self.wait_commit,
            v.SquashCommit: self.squash_commit, v.DeleteCommit: self.delete_commit,
            v.PutFiles: self.put_files, v.CopyFile: self.copy_file, v.InspectFile: self.inspect_file,
            v.ListFiles: self.list_files, v.GlobFiles: self.glob_files, v.DiffFiles: self.diff_files,
        }.items()})

    # ------------------------------------------------------------------ lookups

    def _repo(self, name: str) -> _Repo:
        naming.check_name(name, field="repo")
        if name not in self.repos:
            raise NotFound(f"repo {name!r} not found", repo=name)
        return self.repos[name]

    def _resolve(self, repo: str, ref: str) -> _Commit:
        r = self._repo(repo)
        base, ancestors = naming.split_ref(ref)
        if naming.is_commit_id(base) and base in self.commits and self.commits[base].repo == repo:
            c = self.commits[base]
        elif base in r.branches:
            head = r.branches[base]
            if head is None:
                raise NotFound(f"branch {base!r} of repo {repo!r} has no commits", repo=repo, ref=ref)
            c = self.commits[head]
        else:
            raise NotFound(f"commit or branch {base!r} not found in repo {repo!r}", repo=repo, ref=ref)
        for _ in range(ancestors):
            if c.parent is None:
                raise NotFound(f"{ref!r} goes back past the first commit", repo=repo, ref=ref)
            c = self.commits[c.parent]
        return c

    def _new_commit(self, repo: str, branch: str, description: str) -> _Commit:
        r = self._repo(repo)
        head = r.branches[branch]
        files = dict(self.commits[head].files) if head else {}
        c = _Commit(uuid.uuid4().hex, repo, branch, head, description, _now(), files)
        self.commits[c.id] = c
        r.branches[branch] = c.id
        return c

    def _finish(self, c: _Commit, description: str | None = None) -> None:
        if description is not None:
            c.description = description
        c.finished_at = _now()
        c.done.set()

    # ------------------------------------------------------------------ repos and branches

    async def create_repo(self, req: v.CreateRepo) -> v.RepoInfo:
        naming.check_name(req.name, field="name")
        if req.name in self.repos:
            if not req.update:
                raise AlreadyExists(f"repo {req.name!r} already exists", repo=req.name)
            self.repos[req.name].description = req.description
        else:
            self.repos[req.name] = _Repo(req.name, req.description, _now(), {"master": None}, {"master": _now()})
        return self._repo_info(self.repos[req.name])

    def _repo_info(self, r: _Repo) -> v.RepoInfo:
        head = r.branches.get("master")
        files = self.commits[head].files if head else {}
        return v.RepoInfo(name=r.name, description=r.description, created_at=r.created_at,
                          branches=sorted(r.branches), size_bytes=sum(c.size for c in files.values()),
                          file_count=len(files))

    async def inspect_repo(self, req: v.InspectRepo) -> v.RepoInfo:
        return self._repo_info(self._repo(req.name))

    async def list_repos(self, req: v.ListRepos) -> v.RepoList:
        return v.RepoList(repos=[self._repo_info(r) for r in self.repos.values()])

    async def delete_repo(self, req: v.DeleteRepo) -> Empty:
        self._repo(req.name)
        del self.repos[req.name]
        self.commits = {k: c for k, c in self.commits.items() if c.repo != req.name}
        return Empty()

    def _branch_info(self, r: _Repo, name: str) -> v.BranchInfo:
        return v.BranchInfo(repo=r.name, name=name, head=r.branches[name], created_at=r.branch_created[name])

    async def create_branch(self, req: v.CreateBranch) -> v.BranchInfo:
        r = self._repo(req.repo)
        naming.check_name(req.name, field="name")
        head = self._resolve(req.repo, req.head).id if req.head else None
        r.branches[req.name] = head
        r.branch_created.setdefault(req.name, _now())
        return self._branch_info(r, req.name)

    async def inspect_branch(self, req: v.InspectBranch) -> v.BranchInfo:
        r = self._repo(req.repo)
        if req.name not in r.branches:
            raise NotFound(f"branch {req.name!r} not found in repo {req.repo!r}", repo=req.repo, branch=req.name)
        return self._branch_info(r, req.name)

    async def list_branches(self, req: v.ListBranches) -> v.BranchList:
        r = self._repo(req.repo)
        return v.BranchList(branches=[self._branch_info(r, b) for b in sorted(r.branches)])

    async def delete_branch(self, req: v.DeleteBranch) -> Empty:
        await self.inspect_branch(v.InspectBranch(repo=req.repo, name=req.name))
        del self.repos[req.repo].branches[req.name]
        return Empty()

    # ------------------------------------------------------------------ commits

    async def start_commit(self, req: v.StartCommit) -> v.CommitInfo:
        self.calls.append(req.METHOD)
        r = self._repo(req.repo)
        if req.branch not in r.branches:
            raise NotFound(f"branch {req.branch!r} not found", repo=req.repo, branch=req.branch)
        head = r.branches[req.branch]
        if head and not self.commits[head].finished_at:
            raise Conflict(f"branch {req.branch!r} already has an open commit", commit=head)
        return self._new_commit(req.repo, req.branch, req.description).info()

    async def finish_commit(self, req: v.FinishCommit) -> v.CommitInfo:
        self.calls.append(req.METHOD)
        c = self._resolve(req.repo, req.ref)
        if c.finished_at:
            raise Conflict(f"commit {c.id} is already finished", commit=c.id)
        self._finish(c, req.description)
        return c.info()

    async def inspect_commit(self, req: v.InspectCommit) -> v.CommitInfo:
        return self._resolve(req.repo, req.ref).info()

    async def list_commits(self, req: v.ListCommits) -> v.CommitList:
        r = self._repo(req.repo)
        if req.branch is not None:
            chain, cur = [], r.branches.get(req.branch)
            while cur:
                chain.append(self.commits[cur])
                cur = self.commits[cur].parent
        else:
            chain = sorted((c for c in self.commits.values() if c.repo == r.name),
                           key=lambda c: c.started_at, reverse=True)
        start = int(req.cursor or 0)
        page = chain[start : start + req.limit]
        nxt = str(start + req.limit) if start + req.limit < len(chain) else None
        return v.CommitList(commits=[c.info() for c in page], next_cursor=nxt)

    async def wait_commit(self, req: v.WaitCommit) -> v.CommitInfo:
        c = self._resolve(req.repo, req.ref)
        try:
            await asyncio.wait_for(c.done.wait(), req.timeout)
        except TimeoutError as exc:
            raise Unavailable(f"commit {c.id} did not finish within {req.timeout}s", commit=c.id) from exc
        return c.info()

    async def squash_commit(self, req: v.SquashCommit) -> Empty:
        c = self._resolve(req.repo, req.ref)
        for child in self.commits.values():
            if child.parent == c.id:
                child.parent = c.parent
        self._unlink(c)
        return Empty()

    async def delete_commit(self, req: v.DeleteCommit) -> Empty:
        self.calls.append(req.METHOD)
        c = self._resolve(req.repo, req.ref)
        if any(x.parent == c.id for x in self.commits.values()):
            raise Conflict(f"commit {c.id} has children", commit=c.id)
        self._unlink(c)
        return Empty()

    def _unlink(self, c: _Commit) -> None:
        r = self.repos[c.repo]
        for name, head in r.branches.items():
            if head == c.id:
                r.branches[name] = c.parent
        del self.commits[c.id]

    # ------------------------------------------------------------------ files

    def _target(self, repo: str, ref: str) -> tuple[_Commit, bool]:
        """The open commit a write goes to, and whether the write makes its own (atomic) commit."""
        base, ancestors = naming.split_ref(ref)
        r = self._repo(repo)
        if not ancestors and not naming.is_commit_id(base):
            if base not in r.branches:
                raise NotFound(f"branch {base!r} not found in repo {repo!r}", repo=repo, branch=base)
            head = r.branches[base]
            if head is None or self.commits[head].finished_at:
                return self._new_commit(repo, base, ""), True
            return self.commits[head], False
        c = self._resolve(repo, ref)
        if c.finished_at:
            raise Conflict(f"commit {c.id} is finished; writes need an open commit", commit=c.id)
        return c, False

    async def put_files(self, req: v.PutFiles) -> v.PutResult:
        self.calls.append(req.METHOD)
        if self.fail_puts_after is not None:
            if self.fail_puts_after <= 0:
                raise Unavailable("injected PutFiles failure")
            self.fail_puts_after -= 1
        changes = [(naming.normalize_path(ch.path, field="path"), ch) for ch in req.changes]
        c, atomic = self._target(req.repo, req.ref)
        for path, ch in changes:
            if ch.op == "put":
                assert ch.content is not None
                c.files[path] = ch.content
            else:
                self._delete(c, path)
        if atomic:
            self._finish(c, req.description)
        return v.PutResult(commit=c.info(), atomic=atomic)

    @staticmethod
    def _delete(c: _Commit, path: str) -> None:
        below = path.rstrip("/") + "/"
        doomed = [p for p in c.files if p == path or p.startswith(below)]
        if not doomed:
            raise NotFound(f"{path} not found", path=path)
        for p in doomed:
            del c.files[p]

    async def copy_file(self, req: v.CopyFile) -> v.PutResult:
        src = self._resolve(req.src_repo, req.src_ref)
        items = self._below(src, req.src_path)
        if not items:
            raise NotFound(f"{req.src_path} not found", path=req.src_path)
        c, atomic = self._target(req.dst_repo, req.dst_ref)
        for p, content in items:
            rel = p[len(req.src_path.rstrip("/")):] if p != req.src_path else ""
            c.files[(req.dst_path.rstrip("/") + rel) or "/"] = content
        if atomic:
            self._finish(c, req.description)
        return v.PutResult(commit=c.info(), atomic=atomic)

    @staticmethod
    def _below(c: _Commit, path: str) -> list[tuple[str, v.FileContent]]:
        below = "/" if path == "/" else path + "/"
        return sorted((p, x) for p, x in c.files.items() if p == path or p.startswith(below))

    def _info(self, c: _Commit, path: str) -> v.FileInfo:
        if path in c.files:
            content = c.files[path]
            return v.FileInfo(path=path, type="file", size=content.size, file_count=1, commit=c.id,
                              content=content)
        items = self._below(c, path)
        if not items and path != "/":
            raise NotFound(f"{path} not found in commit {c.id}", path=path, commit=c.id)
        return v.FileInfo(path=path, type="dir", size=sum(x.size for _, x in items), file_count=len(items),
                          commit=c.id)

    async def inspect_file(self, req: v.InspectFile) -> v.FileInfo:
        return self._info(self._resolve(req.repo, req.ref), naming.normalize_path(req.path))

    async def list_files(self, req: v.ListFiles) -> v.FileList:
        c = self._resolve(req.repo, req.ref)
        path = naming.normalize_path(req.path)
        if self._info(c, path).type == "file":
            entries = [path]
        elif req.recursive:
            entries = [p for p, _ in self._below(c, path)]
        else:
            prefix = "/" if path == "/" else path + "/"
            entries = sorted({prefix + p[len(prefix):].split("/")[0] for p, _ in self._below(c, path)})
        return self._page([self._info(c, p) for p in entries], req.limit, req.cursor)

    async def glob_files(self, req: v.GlobFiles) -> v.FileList:
        c = self._resolve(req.repo, req.ref)
        rx = re.compile(_glob_regex(naming.normalize_path(req.pattern, field="pattern")))
        hits = [p for p in sorted(c.files) if rx.match(p)]
        return self._page([self._info(c, p) for p in hits], req.limit, req.cursor)

    async def diff_files(self, req: v.DiffFiles) -> v.DiffList:
        new = self._resolve(req.repo, req.ref)
        old = self._resolve(req.base_repo or req.repo, req.base) if req.base else (
            self.commits[new.parent] if new.parent else None)
        a, b = (old.files if old else {}), new.files
        changes = []
        for p in sorted(set(a) | set(b)):
            if a.get(p) == b.get(p) or not (p == req.path or p.startswith(req.path.rstrip("/") + "/")):
                continue
            kind = "added" if p not in a else "deleted" if p not in b else "modified"
            changes.append(v.DiffEntry(
                path=p, change=kind, old=self._info(old, p) if old and p in a else None,
                new=self._info(new, p) if p in b else None,
            ))
        start = int(req.cursor or 0)
        nxt = str(start + req.limit) if start + req.limit < len(changes) else None
        return v.DiffList(changes=changes[start : start + req.limit], next_cursor=nxt)

    @staticmethod
    def _page(items: list[v.FileInfo], limit: int, cursor: str | None) -> v.FileList:
        start = int(cursor or 0)
        nxt = str(start + limit) if start + limit < len(items) else None
        return v.FileList(files=items[start : start + limit], next_cursor=nxt)
