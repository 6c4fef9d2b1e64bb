"""Commit groups: writes sent with `x-tusk-commit-group: MS` share one commit, finished after MS ms
without writes, by whichever ingest replica sees it idle.

The group is an ordinary open commit on the branch (its description starts with `GROUP_MARK`), so
every other write to the branch lands in it too, and reads see each write at once. Its activity lives
in the object store, not in one process:

    s3-gateway/groups/<repo>/<branch>/<commit>.json   {"idle_ms": MS, "last_write": epoch ms}

Each replica refreshes the record after its writes (at most every `min(MS/4, 1 s)`, the `slack`), and
one loop per replica finishes the groups whose record says they are idle for MS + slack, both the
groups it wrote to and, by scanning the records, those of replicas that died. Before finishing, the
record is read again and the commit is checked to be still open. A writer that finds the group's commit
finished meanwhile starts a new group and writes again; a write that finds a stale group (its replicas
all gone) finishes it first. An open commit that a user started (`tusk start commit`) is never finished
here: group writes simply land in it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from tusk_common.errors import Conflict, NotFound, Unavailable
from tusk_common.store import ObjectStore
from tusk_common.wire.versioning import CommitInfo, PutResult
from tusk_ingest.adapters.versioning import VersioningClient

log = structlog.get_logger(__name__)

GROUPS = "s3-gateway/groups/"
GROUP_MARK = "s3 commit group"
_WRITE_ATTEMPTS = 5


@dataclass(slots=True)
class _Group:
    repo: str
    branch: str
    commit: str
    idle_ms: int
    last_write: float  # epoch seconds of the last write this replica knows of
    flushed: float = 0.0  # when this replica last wrote the record

    @property
    def slack(self) -> float:
        return min(self.idle_ms / 4000, 1.0)

    @property
    def key(self) -> str:
        return record_key(self.repo, self.branch, self.commit)

    def due(self, now: float) -> bool:
        return now - self.last_write >= self.idle_ms / 1000 + self.slack


def record_key(repo: str, branch: str, commit: str) -> str:
    return f"{GROUPS}{repo}/{branch}/{commit}.json"


def is_group(commit: CommitInfo) -> bool:
    return commit.description.startswith(GROUP_MARK)


class CommitGroups:
    """The group commits of every branch this gateway writes to with `x-tusk-commit-group`."""

    def __init__(self, versioning: VersioningClient, backend: ObjectStore, *,
                 clock: Callable[[], float] = time.time, scan_interval: float = 10.0) -> None:
        self.v = versioning
        self.backend = backend
        self.clock = clock
        self.scan_interval = scan_interval
        self._groups: dict[tuple[str, str], _Group] = {}
        self._wake = asyncio.Event()

    async def write(self, repo: str, branch: str, idle_ms: int,
                    do: Callable[[str], Awaitable[PutResult]]) -> PutResult:
        """Run the write `do(ref)` into the branch's group commit (or its user-opened commit)."""
        for _ in range(_WRITE_ATTEMPTS):
            ref, group = await self._open(repo, branch, idle_ms)
            try:
                result = await do(ref)
            except (Conflict, NotFound) as exc:
                if group is None or not _gone(exc):
                    raise
                self._groups.pop((repo, branch), None)  # finished (or deleted) meanwhile: start again
                continue
            if group is not None:
                await self._touch(group)
            return result
        raise Unavailable(f"the commit group of {repo}@{branch} kept closing; try again", repo=repo, branch=branch)

    async def _open(self, repo: str, branch: str, idle_ms: int) -> tuple[str, _Group | None]:
        """The commit to write into: the group this replica knows, the branch's open head, or a new group."""
        known = self._groups.get((repo, branch))
        if known is not None and not known.due(self.clock()):
            return known.commit, known
        while True:
            head = await self._open_head(repo, branch)
            if head is not None:
                if not is_group(head):
                    return branch, None  # a user's open commit: the branch write lands in it
                group = await self._adopt(head, idle_ms)
                if group is not None:
                    return group.commit, group
                await self._finish(repo, branch, head.id)  # stale: nobody finished it in time
            try:
                started = await self.v.start_commit(repo, branch, description=f"{GROUP_MARK} (idle {idle_ms} ms)")
            except Conflict:
                continue  # another writer opened a commit first: join it
            now = self.clock()
            group = _Group(repo, branch, started.id, idle_ms, now)
            self._groups[(repo, branch)] = group
            await self._flush(group)
            self._wake.set()
            log.info("s3.commit_group.started", repo=repo, branch=branch, commit=started.id, idle_ms=idle_ms)
            return group.commit, group

    async def _open_head(self, repo: str, branch: str) -> CommitInfo | None:
        try:
            b = await self.v.inspect_branch(repo, branch)
            if b.head is None:
                return None
            head = await self.v.inspect_commit(repo, b.head)
        except NotFound:
            return None
        return head if head.state == "open" else None

    async def _adopt(self, head: CommitInfo, idle_ms: int) -> _Group | None:
        """The open group commit `head` as a live group, or None when it has been idle too long."""
        repo, branch = head.repo, head.branch or ""
        record = await self._read(record_key(repo, branch, head.id))
        idle = int(record["idle_ms"]) if record else idle_ms
        last = float(record["last_write"]) / 1000 if record else head.started_at.timestamp()
        group = _Group(repo, branch, head.id, idle, last)
        if group.due(self.clock()):
            return None
        self._groups[(repo, branch)] = group
        self._wake.set()
        return group

    async def _touch(self, group: _Group) -> None:
        now = self.clock()
        group.last_write = now
        if now - group.flushed >= group.slack:
            await self._flush(group)

    async def _flush(self, group: _Group) -> None:
        group.flushed = self.clock()
        body = {"idle_ms": group.idle_ms, "last_write": int(group.last_write * 1000)}
        await self.backend.put(group.key, json.dumps(body).encode())

    async def _read(self, key: str) -> dict[str, float] | None:
        try:
            return json.loads(await self.backend.get(key))
        except NotFound:
            return None
        except ValueError:
            return None

    # ---------------------------------------------------------------- finishing idle groups

    async def run(self, stopping: asyncio.Event) -> None:
        """Finish idle groups until `stopping` is set: local ones on time, others found by scanning."""
        next_scan = 0.0
        while not stopping.is_set():
            now = self.clock()
            if now >= next_scan:
                await self._guarded(self.scan())
                next_scan = now + self.scan_interval
            for group in list(self._groups.values()):
                if group.due(now):
                    await self._guarded(self._finish_if_idle(group.repo, group.branch, group.commit, group))
            deadlines = [g.last_write + g.idle_ms / 1000 + g.slack for g in self._groups.values()]
            wait = min([next_scan, *deadlines]) - self.clock()
            self._wake.clear()
            stop = asyncio.ensure_future(stopping.wait())
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({stop, woken}, timeout=max(wait, 0.01), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (stop, woken):
                    task.cancel()
                await asyncio.gather(stop, woken, return_exceptions=True)

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except (Unavailable, TimeoutError, OSError) as exc:  # versioning or the store is down: next round
            log.warning("s3.commit_group.finish_deferred", error=repr(exc))

    async def scan(self) -> None:
        """Finish the idle groups recorded in the store, whichever replica wrote to them."""
        async for key in self.backend.list(GROUPS):
            repo, branch, name = key[len(GROUPS):].split("/", 2)
            commit = name.removesuffix(".json")
            known = self._groups.get((repo, branch))
            await self._finish_if_idle(repo, branch, commit, known if known and known.commit == commit else None)

    async def _finish_if_idle(self, repo: str, branch: str, commit: str, local: _Group | None) -> None:
        record = await self._read(record_key(repo, branch, commit))
        if record is None and local is None:
            return
        idle = int(record["idle_ms"]) if record else local.idle_ms  # type: ignore[union-attr]
        last = float(record["last_write"]) / 1000 if record else 0.0
        if local is not None:
            last = max(last, local.last_write)
            local.last_write = last
        group = _Group(repo, branch, commit, idle, last)
        if group.due(self.clock()):
            await self._finish(repo, branch, commit)

    async def _finish(self, repo: str, branch: str, commit: str) -> None:
        """Finish the group commit if it is still open, then forget it (guarded by versioning's state)."""
        try:
            info = await self.v.inspect_commit(repo, commit)
            if info.state == "open" and is_group(info):
                await self.v.finish_commit(repo, commit)
                log.info("s3.commit_group.finished", repo=repo, branch=branch, commit=commit)
        except (NotFound, Conflict):
            pass  # deleted, or finished by another replica or a user
        known = self._groups.get((repo, branch))
        if known is not None and known.commit == commit:
            del self._groups[(repo, branch)]
        await self.backend.delete(record_key(repo, branch, commit))


def _gone(exc: Conflict | NotFound) -> bool:
    """Whether a write failed because the commit it targeted is finished or deleted."""
    if isinstance(exc, NotFound):
        return "commit" in exc.details or "ref" in exc.details
    return "commit" in exc.details and "path" not in exc.details
