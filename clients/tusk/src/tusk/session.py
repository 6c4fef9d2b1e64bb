"""Where a multi-request write lands, so that it becomes visible all at once or not at all.

Writing to a branch with no open commit makes every request its own atomic commit. A write that needs
several requests therefore starts one commit, sends every request into it, and finishes it; if anything
fails (or the user interrupts), the started commit is deleted so nothing partial ever lands. Writing to an
open commit, or to a branch whose head is open, goes straight in: that commit belongs to someone else,
who finishes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tusk_common.errors import NotFound, TuskError
from tusk_common.naming import is_commit_id, split_ref
from tusk_common.wire.versioning import CommitInfo

if TYPE_CHECKING:
    from tusk.versioning import VersioningMethods as Client


@dataclass
class WriteTarget:
    """The ref to write into, and the commit this session started (None if it writes into another's)."""

    repo: str
    ref: str
    started: CommitInfo | None = None
    finished: CommitInfo | None = field(default=None)


@contextmanager
def owned_commit(
    client: Client, repo: str, branch: str, *, parent: str | None = None, description: str = ""
) -> Iterator[WriteTarget]:
    """Start a commit on `branch`; finish it on success, delete it on any failure, then re-raise."""
    info = client.start_commit(repo, branch, parent=parent, description=description)
    target = WriteTarget(repo, info.id, started=info)
    try:
        yield target
    except BaseException as exc:
        _discard(client, repo, info.id, exc)
        raise
    target.finished = client.finish_commit(repo, info.id)


@contextmanager
def write_target(client: Client, repo: str, ref: str, *, description: str = "") -> Iterator[WriteTarget]:
    """Where several requests to `ref` should go so they land in one commit (see the module doc)."""
    base, ancestors = split_ref(ref)
    if ancestors or is_commit_id(base) or _head_is_open(client, repo, base):
        yield WriteTarget(repo, ref)
        return
    with owned_commit(client, repo, base, description=description) as target:
        yield target


def _head_is_open(client: Client, repo: str, branch: str) -> bool:
    try:
        head = client.inspect_branch(repo, branch).head
    except NotFound:
        return False  # start_commit creates the branch, or says why it cannot
    return head is not None and client.inspect_commit(repo, head).state == "open"


def _discard(client: Client, repo: str, commit_id: str, cause: BaseException) -> None:
    try:
        client.delete_commit(repo, commit_id)
    except (TuskError, OSError) as exc:
        cause.add_note(f"tusk: the unfinished commit {repo}@{commit_id} could not be deleted: {exc}")
