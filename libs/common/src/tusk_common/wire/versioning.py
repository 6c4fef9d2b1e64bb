"""RPC contract of the versioning service: `tusk.rpc.versioning.<METHOD>`.

Refs are a branch name, a commit id (32 hex), or either followed by `^N` / `~N` (N-th ancestor).
Paths are absolute (`/a/b.csv`); see `tusk_common.naming`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from tusk_common.wire.base import Empty, Request, Wire

SERVICE = "versioning"


# ---------------------------------------------------------------- values


class RepoInfo(Wire):
    name: str
    description: str = ""
    created_at: datetime
    default_branch: str = "master"
    branches: list[str] = Field(default_factory=list)
    size_bytes: int = 0  # of the default branch's head
    file_count: int = 0


class BranchInfo(Wire):
    repo: str
    name: str
    head: str | None  # commit id; None for a branch with no commit yet
    created_at: datetime


class CommitInfo(Wire):
    id: str
    repo: str
    branch: str | None
    parent: str | None
    origin: Literal["user", "auto"] = "user"
    commit_set: str
    description: str = ""
    state: Literal["open", "finished"]
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None  # set when the commit was finished as failed
    size_bytes: int = 0
    file_count: int = 0


class FileContent(Wire):
    """The bytes of one file, as the chunk store wrote them.

    `id` is the hex BLAKE3 of the file's chunk manifest, so equal bytes have equal ids. `chunks` is the
    base64 of the packed manifest when it is small; otherwise it lives in the store at `manifests/<id>`.
    `pack` is set for a one-chunk file whose chunk was stored inside a pack object:
    `<pack id>:<offset>:<length>` of its frame there (docs/storage.md "Packs").
    """

    id: str
    size: int = Field(ge=0)
    md5: str | None = None
    chunks: str | None = None
    pack: str | None = None


class FileInfo(Wire):
    path: str
    type: Literal["file", "dir"]
    size: int = 0
    file_count: int = 0  # files below a directory; 1 for a file
    commit: str  # the commit the listing was read from
    content: FileContent | None = None  # files only
    meta: dict[str, str] | None = None  # files only: the metadata stored with the file (see FileChange)


class FileChange(Wire):
    """One staged change: put content at path, or delete path (a file, or a directory recursively).

    `meta` is a small string map stored with the file in its tree entry (the S3 gateway keeps the
    content type, user metadata, checksums and part sizes there). It is part of the file's identity:
    the same bytes with other metadata are a modified file. At most `MAX_FILE_META_BYTES` of keys and
    values; an empty map is the same as none.
    """

    op: Literal["put", "delete"]
    path: str
    content: FileContent | None = None
    meta: dict[str, str] | None = None


MAX_FILE_META_BYTES = 16 * 1024  # UTF-8 bytes of the keys and values of one file's `meta`


class DiffEntry(Wire):
    path: str
    change: Literal["added", "deleted", "modified"]
    old: FileInfo | None = None
    new: FileInfo | None = None


# ---------------------------------------------------------------- replies


class RepoList(Wire):
    repos: list[RepoInfo]


class BranchList(Wire):
    branches: list[BranchInfo]


class CommitList(Wire):
    commits: list[CommitInfo]
    next_cursor: str | None = None


class FileList(Wire):
    files: list[FileInfo]
    next_cursor: str | None = None


class DiffList(Wire):
    changes: list[DiffEntry]
    next_cursor: str | None = None


class PutResult(Wire):
    commit: CommitInfo
    atomic: bool  # True when the request made (and finished) its own commit


# ---------------------------------------------------------------- requests


class _V(Request):
    SERVICE: ClassVar[str] = SERVICE


class CreateRepo(_V):
    METHOD: ClassVar[str] = "repo.create"
    REPLY: ClassVar[type] = RepoInfo
    name: str
    description: str = ""
    update: bool = False  # update the description of an existing repo instead of failing


class InspectRepo(_V):
    METHOD: ClassVar[str] = "repo.inspect"
    REPLY: ClassVar[type] = RepoInfo
    name: str


class ListRepos(_V):
    METHOD: ClassVar[str] = "repo.list"
    REPLY: ClassVar[type] = RepoList


class DeleteRepo(_V):
    METHOD: ClassVar[str] = "repo.delete"
    REPLY: ClassVar[type] = Empty
    name: str
    force: bool = False


class SetRepoUsers(_V):
    """Record the repos a pipeline reads and writes (replacing what was recorded for it): a repo in use
    is refused by `repo.delete` unless forced. Empty `inputs` and no `output` forget the pipeline."""

    METHOD: ClassVar[str] = "repo.set_users"
    REPLY: ClassVar[type] = Empty
    pipeline: str
    inputs: list[str] = Field(default_factory=list)
    output: str | None = None


class CreateBranch(_V):
    METHOD: ClassVar[str] = "branch.create"
    REPLY: ClassVar[type] = BranchInfo
    repo: str
    name: str
    head: str | None = None  # a ref in the same repo; None makes an empty branch


class InspectBranch(_V):
    METHOD: ClassVar[str] = "branch.inspect"
    REPLY: ClassVar[type] = BranchInfo
    repo: str
    name: str


class ListBranches(_V):
    METHOD: ClassVar[str] = "branch.list"
    REPLY: ClassVar[type] = BranchList
    repo: str


class DeleteBranch(_V):
    METHOD: ClassVar[str] = "branch.delete"
    REPLY: ClassVar[type] = Empty
    repo: str
    name: str
    force: bool = False


class StartCommit(_V):
    METHOD: ClassVar[str] = "commit.start"
    REPLY: ClassVar[type] = CommitInfo
    repo: str
    branch: str
    parent: str | None = None  # a ref; default: the branch head
    description: str = ""
    # A pipeline's output commit joins the commit set of the input commit that caused it (origin "auto");
    # None starts a new commit set whose id is the new commit's id.
    commit_set: str | None = None
    origin: Literal["user", "auto"] = "user"


class FinishCommit(_V):
    METHOD: ClassVar[str] = "commit.finish"
    REPLY: ClassVar[type] = CommitInfo
    repo: str
    ref: str
    description: str | None = None
    error: str | None = None  # finish as failed (used by the scheduler for failed jobs)


class InspectCommit(_V):
    METHOD: ClassVar[str] = "commit.inspect"
    REPLY: ClassVar[type] = CommitInfo
    repo: str
    ref: str


class ListCommits(_V):
    METHOD: ClassVar[str] = "commit.list"
    REPLY: ClassVar[type] = CommitList
    repo: str
    branch: str | None = None  # the branch's ancestry, newest first; None: every commit of the repo
    limit: int = Field(100, ge=1, le=10_000)
    cursor: str | None = None


class WaitCommit(_V):
    METHOD: ClassVar[str] = "commit.wait"
    REPLY: ClassVar[type] = CommitInfo
    repo: str
    ref: str
    timeout: float = Field(3600.0, gt=0, le=86_400)


class SquashCommit(_V):
    METHOD: ClassVar[str] = "commit.squash"
    REPLY: ClassVar[type] = Empty
    repo: str
    ref: str


class DeleteCommit(_V):
    METHOD: ClassVar[str] = "commit.delete"
    REPLY: ClassVar[type] = Empty
    repo: str
    ref: str


class PutFiles(_V):
    """Stage changes into the open commit `ref` (an open commit id, or a branch whose head is open).

    When `ref` is a branch with no open head, the changes become one new commit, finished at once.
    """

    METHOD: ClassVar[str] = "file.put"
    REPLY: ClassVar[type] = PutResult
    repo: str
    ref: str
    changes: list[FileChange] = Field(max_length=10_000)
    description: str = ""


class CopyFile(_V):
    """Copy a file or directory by reference (no bytes move) into an open commit or a branch."""

    METHOD: ClassVar[str] = "file.copy"
    REPLY: ClassVar[type] = PutResult
    src_repo: str
    src_ref: str
    src_path: str
    dst_repo: str
    dst_ref: str
    dst_path: str
    description: str = ""


class InspectFile(_V):
    METHOD: ClassVar[str] = "file.inspect"
    REPLY: ClassVar[type] = FileInfo
    repo: str
    ref: str
    path: str


class ListFiles(_V):
    METHOD: ClassVar[str] = "file.list"
    REPLY: ClassVar[type] = FileList
    repo: str
    ref: str
    path: str = "/"
    recursive: bool = False  # every file below path (no directory entries)
    limit: int = Field(1000, ge=1, le=10_000)
    cursor: str | None = None


class GlobFiles(_V):
    METHOD: ClassVar[str] = "file.glob"
    REPLY: ClassVar[type] = FileList
    repo: str
    ref: str
    pattern: str
    limit: int = Field(1000, ge=1, le=10_000)
    cursor: str | None = None


class DiffFiles(_V):
    """Files that differ between `base` (default: the parent of `ref`) and `ref`, below `path`."""

    METHOD: ClassVar[str] = "file.diff"
    REPLY: ClassVar[type] = DiffList
    repo: str
    ref: str
    base: str | None = None
    base_repo: str | None = None
    path: str = "/"
    limit: int = Field(1000, ge=1, le=10_000)
    cursor: str | None = None


ALL_REQUESTS: tuple[type[Request], ...] = (
    CreateRepo, InspectRepo, ListRepos, DeleteRepo, SetRepoUsers,
    CreateBranch, InspectBranch, ListBranches, DeleteBranch,
    StartCommit, FinishCommit, InspectCommit, ListCommits, WaitCommit, SquashCommit, DeleteCommit,
    PutFiles, CopyFile, InspectFile, ListFiles, GlobFiles, DiffFiles,
)
