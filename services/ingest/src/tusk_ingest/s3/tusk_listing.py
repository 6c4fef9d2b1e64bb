"""Listings in S3 key order over versioning's file trees, and object versions over a branch's history.

Versioning walks a tree directory by directory (`a/` before `a-b`), S3 lists keys in UTF-8 byte order
(`a-b` before `a/x`, since `-` < `/`). Inside one directory the two orders differ only where a
sibling's name extends a directory's name with a character below `/` (` `, `!`, `-`, `.` ...), so
each directory's entries are merged in name order with a small heap of directories waiting for their
key (`name/`) to come up. Nothing is read that a page does not need:
- a listing starts in the directory the prefix names, at the name `start-after` (or the prefix)
  names, through the path cursor of `ListFiles`; the few names the cursor skips but whose
  subtree can still follow (the start name itself, and each of its prefixes that is followed by a
  character below `/`) are looked up one by one;
- with the delimiter `/`, a directory is one common prefix: a page costs one `ListFiles` page;
- without it, runs of small subtrees (sizes are in the directory entries) are fetched with one
  recursive `ListFiles` and sorted locally; large directories are walked the same way recursively.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from tusk_common.errors import NotFound
from tusk_common.wire.versioning import FileInfo
from tusk_ingest.adapters.versioning import VersioningClient
from tusk_ingest.s3 import tusk_meta
from tusk_ingest.s3.driver import CommonPrefix, ObjectSummary, ObjectVersion

Item = ObjectSummary | CommonPrefix
MAX_BATCH = 1000  # files fetched by one recursive ListFiles and sorted in memory
MAX_PAGE = 1000  # directory entries per ListFiles page


def path_cursor(parts: tuple[str, ...]) -> str:
    """A ListFiles cursor "after the path `parts`": versioning's path cursor (base64url JSON)."""
    raw = json.dumps(["path", list(parts)], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _dir_path(parts: tuple[str, ...]) -> str:
    return "/" + "/".join(parts)


@dataclass(slots=True)
class _Child:
    """One entry of the directory being listed."""

    name: str
    info: FileInfo
    index: int | None  # position in the directory's listing; None: found by name (a skipped name)
    after: str | None = None  # a directory entered part way: only its keys after this one

    @property
    def is_dir(self) -> bool:
        return self.info.type == "dir"

    @property
    def key(self) -> str:
        return self.name + "/" if self.is_dir else self.name


class TreeLister:
    """Keys of one commit in S3 order; `rollup` lists directories as common prefixes (delimiter `/`)."""

    def __init__(self, versioning: VersioningClient, repo: str, commit: str, *, rollup: bool,
                 last_modified: datetime, hint: int | None) -> None:
        self.v = versioning
        self.repo = repo
        self.commit = commit
        self.rollup = rollup
        self.last_modified = last_modified
        wanted = (hint or MAX_PAGE) + 1  # one more than the page: the caller's "is there more?"
        self.page = max(16, min(wanted, MAX_PAGE))
        self.batch_files = max(16, min(wanted, MAX_BATCH))

    async def keys(self, prefix: str, start_after: str) -> AsyncIterator[Item]:
        """Keys (or rolled-up prefixes) starting with `prefix`, strictly after `start_after`."""
        cut = prefix.rfind("/") + 1
        base, name_prefix = prefix[:cut], prefix[cut:]
        parts = tuple(base[:-1].split("/")) if base else ()
        if any(p in ("", ".", "..") for p in parts):
            return  # no file path has such a directory
        after: str | None = None
        if start_after.startswith(base):
            after = start_after[len(base):] or None
        elif start_after > base:
            return  # every key below `base` sorts before start_after
        async for item in self._walk(parts, name_prefix, after):
            yield item

    # ---------------------------------------------------------------- one directory

    async def _walk(self, parts: tuple[str, ...], name_prefix: str, after: str | None) -> AsyncIterator[Item]:
        """The keys below directory `parts` in S3 order (names must start with `name_prefix`)."""
        if after is not None and after < name_prefix:
            after = None  # every name with the prefix sorts after it
        start, skipped = _start(name_prefix, after)
        heap: list[tuple[str, int, _Child]] = []
        order = itertools.count()
        for name in skipped:
            child = await self._lookup(parts, name, after)
            if child is not None:
                heapq.heappush(heap, (child.key, next(order), child))
        batch: list[_Child] = []
        async for child in self._children(parts, start):
            name = child.name
            if not name.startswith(name_prefix):
                if name > name_prefix:
                    break
                continue
            if after is not None and child.key <= after:
                continue
            while heap and heap[0][0] < name:
                async for item in self._emit(parts, heapq.heappop(heap)[2], batch):
                    yield item
            if child.is_dir:
                heapq.heappush(heap, (child.key, next(order), child))
            else:
                async for item in self._emit(parts, child, batch):
                    yield item
        while heap:
            async for item in self._emit(parts, heapq.heappop(heap)[2], batch):
                yield item
        async for item in self._flush(parts, batch):
            yield item

    async def _lookup(self, parts: tuple[str, ...], name: str, after: str | None) -> _Child | None:
        """A name the directory cursor skips: kept only if it is a directory with keys after `after`."""
        try:
            info = await self.v.inspect_file(self.repo, self.commit, _dir_path((*parts, name)))
        except NotFound:
            return None
        if after is None:  # the exact name of a prefix: a file or a directory, whole
            return _Child(name, info, None)
        if info.type != "dir":
            return None  # a file at a skipped name sorts at or before `after`
        inside = after.startswith(name + "/")
        if inside and self.rollup:
            return None  # its common prefix is at or before `after`
        return _Child(name, info, None, after[len(name) + 1:] or None if inside else None)

    async def _children(self, parts: tuple[str, ...], start: str | None) -> AsyncIterator[_Child]:
        """The directory's entries in name order, after the name `start`."""
        path = _dir_path(parts)
        cursor = path_cursor((*parts, start)) if start is not None else None
        below = path.rstrip("/") + "/"
        index = 0
        while True:
            try:
                page = await self.v.list_files(self.repo, self.commit, path, limit=self.page, cursor=cursor)
            except NotFound:
                return
            for f in page.files:
                if not f.path.startswith(below):
                    return  # `path` is a file, not a directory
                yield _Child(f.path[len(below):], f, index)
                index += 1
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # ---------------------------------------------------------------- emitting in order

    async def _emit(self, parts: tuple[str, ...], child: _Child, batch: list[_Child]) -> AsyncIterator[Item]:
        """Yield one child (in S3 order) or gather it into the run of small subtrees fetched together."""
        prefix = "".join(p + "/" for p in parts)
        if self.rollup:
            if child.is_dir:
                yield CommonPrefix(prefix + child.key)
            else:
                yield tusk_meta.summary(prefix + child.name, child.info, self.last_modified)
            return
        if self._joins(batch, child):
            batch.append(child)
            return
        async for item in self._flush(parts, batch):
            yield item
        if self._joins(batch, child):
            batch.append(child)
        elif not child.is_dir:
            yield tusk_meta.summary(prefix + child.name, child.info, self.last_modified)
        elif child.index is None and child.after is None and child.info.file_count <= self.batch_files:
            async for item in self._subtree(parts, child):
                yield item
        else:
            async for item in self._walk((*parts, child.name), "", child.after):
                yield item

    def _joins(self, batch: list[_Child], child: _Child) -> bool:
        """Whether `child` extends the run: next in the listing, small, and within the batch size."""
        if child.index is None or child.after is not None or child.info.file_count > self.batch_files:
            return False
        if not batch:
            return True
        last = batch[-1].index
        total = sum(c.info.file_count for c in batch)
        return last is not None and child.index == last + 1 and total + child.info.file_count <= self.batch_files

    async def _flush(self, parts: tuple[str, ...], batch: list[_Child]) -> AsyncIterator[Item]:
        """The files of a run of consecutive entries: one recursive ListFiles from its first directory."""
        if not batch:
            return
        run, batch[:] = list(batch), []
        prefix = "".join(p + "/" for p in parts)
        first = next((i for i, c in enumerate(run) if c.is_dir), None)
        files = [(prefix + c.name, c.info) for c in run[: len(run) if first is None else first]]
        if first is not None:
            wanted = sum(c.info.file_count for c in run[first:])
            files += await self._files(_dir_path(parts), path_cursor((*parts, run[first].name)), wanted)
        files.sort(key=lambda kf: kf[0])
        for key, info in files:
            yield tusk_meta.summary(key, info, self.last_modified)

    async def _subtree(self, parts: tuple[str, ...], child: _Child) -> AsyncIterator[Item]:
        files = await self._files(_dir_path((*parts, child.name)), None, child.info.file_count)
        files.sort(key=lambda kf: kf[0])
        for key, info in files:
            yield tusk_meta.summary(key, info, self.last_modified)

    async def _files(self, path: str, cursor: str | None, wanted: int) -> list[tuple[str, FileInfo]]:
        """`wanted` files of a recursive listing of `path` from `cursor`, keyed by their S3 key."""
        out: list[tuple[str, FileInfo]] = []
        while len(out) < wanted:
            page = await self.v.list_files(self.repo, self.commit, path, recursive=True,
                                           limit=min(wanted - len(out), 10_000), cursor=cursor)
            out += [(f.path[1:], f) for f in page.files]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return out[:wanted]


def _start(name_prefix: str, after: str | None) -> tuple[str | None, list[str]]:
    """Where the directory cursor starts (a name), and the names it skips that must be looked up."""
    if after is None:
        return (name_prefix, [name_prefix]) if name_prefix else (None, [])
    first = after.split("/", 1)[0]
    if not first:  # `start-after` begins with "/": no name to start at, the entries are filtered instead
        return None, []
    # A directory `d` holds keys `d/...`; it sorts after `first` when `first` continues `d` with a
    # character below "/" (d = "a" and first = "a-b"), though the name `d` comes before `first`.
    skipped = [first[:i] for i in range(1, len(first)) if first[i] < "/"] + [first]
    return first, [n for n in skipped if n.startswith(name_prefix)]


# -------------------------------------------------------------------- versions


async def history_versions(
    v: VersioningClient, repo: str, branch: str, prefix: str
) -> dict[str, list[ObjectVersion]]:
    """Per key with `prefix`, newest first: the commits of the branch that changed it.

    One ListCommits page per 100 commits and one DiffFiles (limited to the prefix's directory, so
    equal subtrees are skipped) per commit: the cost grows with the history, not with the repo.
    """
    base = prefix[: prefix.rfind("/") + 1]
    path = "/" + base.rstrip("/")
    history: dict[str, list[ObjectVersion]] = {}
    cursor: str | None = None
    while True:
        try:
            commits = await v.list_commits(repo, branch, limit=100, cursor=cursor)
        except NotFound:
            return history
        for c in commits.commits:
            when = c.finished_at or datetime.now(UTC)  # an open head: "now", as reads say
            diff_cursor: str | None = None
            while True:
                try:
                    diff = await v.diff_files(repo, c.id, path=path, limit=1000, cursor=diff_cursor)
                except NotFound:
                    break
                for change in diff.changes:
                    key = change.path[1:]
                    if not key.startswith(prefix):
                        continue
                    versions = history.setdefault(key, [])
                    if change.change == "deleted" or change.new is None:
                        versions.append(ObjectVersion(key, c.id, not versions, when, delete_marker=True))
                    else:
                        versions.append(ObjectVersion(
                            key, c.id, not versions, when, change.new.size,
                            tusk_meta.etag(change.new.content, change.new.meta),
                        ))
                if diff.next_cursor is None:
                    break
                diff_cursor = diff.next_cursor
        if commits.next_cursor is None:
            return history
        cursor = commits.next_cursor
