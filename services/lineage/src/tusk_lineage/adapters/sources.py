"""What the lineage service asks other services: versioning (commits, diffs, listings) and the scheduler
(jobs, datums, pipeline versions) over NATS RPC, and the chunk store for large datum output manifests.

Commits are immutable, so a listing of (repo, commit, path) never goes stale: an LRU keeps the recent
ones (a cross input makes many datums read the same files).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from tusk_common.bus import Bus
from tusk_common.errors import NotFound
from tusk_common.store import ChunkStore
from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v
from tusk_common.wire.base import Request
from tusk_lineage.domain.facts import FileChange, InputFile

Listing = tuple[tuple[str, str, int], ...]  # (path, content id, size)


class Sources:
    def __init__(self, bus: Bus, store: ChunkStore | None, *, timeout: float, page: int, cache: int,
                 concurrency: int) -> None:  # fmt: skip
        self._bus = bus
        self._store = store
        self._timeout = timeout
        self._page = page
        self._cache: OrderedDict[tuple[str, str, str], Listing] = OrderedDict()
        self._cache_size = cache
        self._slots = asyncio.Semaphore(concurrency)

    async def call(self, req: Request, *, wait: float | None = None) -> Any:
        """One RPC; `wait` overrides the timeout (a long wait for a job)."""
        async with self._slots:
            return await self._bus.request(req, timeout=wait or self._timeout)

    # ------------------------------------------------------------ versioning

    async def inspect_commit(self, repo: str, ref: str) -> v.CommitInfo:
        return await self.call(v.InspectCommit(repo=repo, ref=ref))

    async def list_repos(self) -> list[v.RepoInfo]:
        return (await self.call(v.ListRepos())).repos

    async def list_commits(self, repo: str) -> list[v.CommitInfo]:
        """Every commit of a repo (any branch)."""
        out: list[v.CommitInfo] = []
        cursor: str | None = None
        while True:
            page = await self.call(v.ListCommits(repo=repo, branch=None, limit=self._page, cursor=cursor))
            out.extend(page.commits)
            cursor = page.next_cursor
            if not cursor:
                return out

    async def changes(self, repo: str, commit: str, *, full: bool) -> list[FileChange]:
        """The files of `commit` that differ from its parent (`full`: every file of the commit)."""
        if full:
            return [FileChange(p, c, s) for p, c, s in await self._list(repo, commit, "/")]
        out: list[FileChange] = []
        cursor: str | None = None
        while True:
            try:
                page = await self.call(v.DiffFiles(repo=repo, ref=commit, path="/", limit=self._page, cursor=cursor))
            except NotFound as exc:
                if exc.details.get("path") == "/":
                    return out  # an empty commit on an empty parent: nothing at "/" on either side
                raise
            for entry in page.changes:
                if entry.change == "deleted":
                    if entry.old is None or entry.old.type == "file":
                        out.append(FileChange(entry.path, None, 0))
                elif entry.new is not None and entry.new.type == "file" and entry.new.content is not None:
                    out.append(FileChange(entry.path, entry.new.content.id, entry.new.content.size))
            cursor = page.next_cursor
            if not cursor:
                return out

    async def files_below(self, repo: str, commit: str, path: str) -> Listing:
        """Every file at or below `path` in `commit` (the files of one datum input)."""
        key = (repo, commit, path)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        listing = await self._list(repo, commit, path)
        if self._cache_size:
            self._cache[key] = listing
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return listing

    async def _list(self, repo: str, commit: str, path: str) -> Listing:
        out: list[tuple[str, str, int]] = []
        cursor: str | None = None
        while True:
            try:
                page = await self.call(v.ListFiles(repo=repo, ref=commit, path=path, recursive=True,
                                                   limit=self._page, cursor=cursor))  # fmt: skip
            except NotFound:
                if path == "/":
                    return tuple(out)  # an empty commit has no root to list
                raise
            out.extend((f.path, f.content.id, f.content.size) for f in page.files
                       if f.type == "file" and f.content is not None)  # fmt: skip
            cursor = page.next_cursor
            if not cursor:
                return tuple(out)

    # ------------------------------------------------------------ scheduler

    async def inspect_datum(self, pipeline: str, job: str, datum: str) -> w.DatumInfo:
        return await self.call(w.InspectDatum(pipeline=pipeline, job=job, datum=datum))

    async def inspect_pipeline(self, name: str) -> w.PipelineInfo:
        return await self.call(w.InspectPipeline(name=name, history=True))

    async def list_pipelines(self) -> list[w.PipelineInfo]:
        return (await self.call(w.ListPipelines())).pipelines

    async def list_jobs(self, pipeline: str) -> list[w.JobInfo]:
        out: list[w.JobInfo] = []
        cursor: str | None = None
        while True:
            page = await self.call(w.ListJobs(pipeline=pipeline, limit=1000, cursor=cursor))
            out.extend(page.jobs)
            cursor = page.next_cursor
            if not cursor:
                return out

    async def list_datums(self, pipeline: str, job: str) -> list[w.DatumInfo]:
        """Every datum of a job, with its output manifest."""
        out: list[w.DatumInfo] = []
        cursor: str | None = None
        while True:
            page = await self.call(w.ListDatums(pipeline=pipeline, job=job, limit=min(self._page, 1000),
                                                cursor=cursor, outputs=True))  # fmt: skip
            out.extend(page.datums)
            cursor = page.next_cursor
            if not cursor:
                return out

    async def datum_inputs(self, datum: w.DatumInfo) -> tuple[InputFile, ...]:
        """The exact files a datum read, from the scheduler's record of it (rebuild): everything below each
        input's match, at the input's commit (what its task listed)."""

        async def one(i: w.DatumInputInfo) -> list[InputFile]:
            if i.commit is None:
                return []
            listing = await self.files_below(i.repo, i.commit, i.path)
            return [InputFile(i.name, i.repo, i.commit, p, c, s) for p, c, s in listing]

        parts = await asyncio.gather(*(one(i) for i in datum.inputs))
        return tuple(f for part in parts for f in part)

    async def task_inputs(self, inputs: Sequence[w.TaskInput]) -> tuple[InputFile, ...]:
        """The exact files a datum read, as its task (and so its `datum.done`) listed them: inline, or a long
        list by reference to the chunk store."""

        async def one(i: w.TaskInput) -> list[InputFile]:
            if i.commit is None:
                return []
            if i.files_ref is None:
                return [InputFile(i.name, i.repo, i.commit, f.path, f.content.id, f.content.size) for f in i.files]
            listed: list[dict[str, Any]] = await self._json(i.files_ref, "a datum's input files")
            return [InputFile(i.name, i.repo, i.commit, f["path"], f["content"]["id"], int(f["content"].get("size", 0)))
                    for f in listed]  # fmt: skip

        parts = await asyncio.gather(*(one(i) for i in inputs))
        return tuple(f for part in parts for f in part)

    # ------------------------------------------------------------ chunk store

    async def outputs(self, inline: dict[str, v.FileContent] | None, ref: v.FileContent | None
                      ) -> dict[str, tuple[str, int]] | None:  # fmt: skip
        """A datum's output manifest: inline, or the JSON a worker or the scheduler stored in the chunk
        store; None when neither is given (a datum record without outputs)."""
        if ref is None:
            return None if inline is None else {p: (c.id, c.size) for p, c in inline.items()}
        raw: dict[str, Any] = await self._json(ref, "a datum's outputs")
        return {p: (c["id"], int(c.get("size", 0))) for p, c in raw.items()}

    async def _json(self, ref: v.FileContent, what: str) -> Any:
        if self._store is None:
            raise NotFound(f"{what} are in the chunk store, which this service cannot read")
        data = bytearray()
        async for block in self._store.read(ref):
            data += block
        return json.loads(bytes(data))
