"""The scheduler's client of the versioning service (NATS RPC)."""

from __future__ import annotations

from collections.abc import Sequence

from tusk_common.bus import Bus
from tusk_common.errors import AlreadyExists, Conflict, NotFound
from tusk_common.wire import versioning as v
from tusk_common.wire.base import Request


class Versioning:
    def __init__(self, bus: Bus, *, timeout: float, page: int) -> None:
        self._bus = bus
        self._timeout = timeout
        self._page = page

    async def call(self, req: Request) -> object:
        return await self._bus.request(req, timeout=self._timeout)

    async def repo_exists(self, name: str) -> bool:
        try:
            await self.call(v.InspectRepo(name=name))
        except NotFound:
            return False
        return True

    async def create_repo(self, name: str, description: str) -> None:
        await self.call(v.CreateRepo(name=name, description=description))

    async def ensure_repo(self, name: str, description: str) -> None:
        if not await self.repo_exists(name):
            try:
                await self.create_repo(name, description)
            except AlreadyExists:  # created meanwhile
                pass

    async def set_repo_users(self, pipeline: str, inputs: Sequence[str], output: str | None) -> None:
        """Tell versioning which repos `pipeline` reads and writes (so they are not deleted under it)."""
        await self.call(v.SetRepoUsers(pipeline=pipeline, inputs=list(inputs), output=output))

    async def delete_repo(self, name: str) -> None:
        try:
            await self.call(v.DeleteRepo(name=name, force=True))
        except NotFound:
            pass

    async def inspect_commit(self, repo: str, ref: str) -> v.CommitInfo:
        reply = await self.call(v.InspectCommit(repo=repo, ref=ref))
        assert isinstance(reply, v.CommitInfo)
        return reply

    async def finished_head(self, repo: str, branch: str) -> v.CommitInfo | None:
        """The newest finished commit of `branch` (the head, or its parent while the head is open)."""
        try:
            c = await self.inspect_commit(repo, branch)
        except NotFound:
            return None
        while c.state != "finished":
            if c.parent is None:
                return None
            c = await self.inspect_commit(repo, c.parent)
        return c

    async def start_commit(self, repo: str, branch: str, *, commit_set: str, description: str) -> v.CommitInfo:
        reply = await self.call(
            v.StartCommit(repo=repo, branch=branch, description=description, commit_set=commit_set, origin="auto")
        )
        assert isinstance(reply, v.CommitInfo)
        return reply

    async def finish_commit(self, repo: str, commit: str, *, error: str | None) -> v.CommitInfo | None:
        """Finish `commit`; None if it was already finished (a retried step)."""
        try:
            reply = await self.call(v.FinishCommit(repo=repo, ref=commit, error=error))
        except Conflict:
            c = await self.inspect_commit(repo, commit)
            if c.state == "finished":
                return None
            raise
        assert isinstance(reply, v.CommitInfo)
        return reply

    async def list_tree(self, repo: str, ref: str) -> dict[str, v.FileInfo]:
        """Every file of a commit, by path."""
        files: dict[str, v.FileInfo] = {}
        cursor: str | None = None
        while True:
            page = await self.call(
                v.ListFiles(repo=repo, ref=ref, path="/", recursive=True, limit=self._page, cursor=cursor)
            )
            assert isinstance(page, v.FileList)
            for f in page.files:
                if f.type == "file":
                    files[f.path] = f
            cursor = page.next_cursor
            if not cursor:
                return files

    async def put_files(self, repo: str, ref: str, changes: Sequence[v.FileChange], *, batch: int) -> None:
        for start in range(0, len(changes), batch):
            await self.call(v.PutFiles(repo=repo, ref=ref, changes=list(changes[start : start + batch])))
