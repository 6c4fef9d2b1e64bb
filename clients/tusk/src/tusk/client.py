"""`tusk.Client`: the synchronous Python SDK over the REST API (docs/api.md, docs/sdk.md)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tusk import routes
from tusk.lineage import LineageMethods
from tusk.pipelines import PipelineMethods
from tusk.results import FilePutResult, UploadSummary
from tusk.session import owned_commit
from tusk.sources import Progress, Source
from tusk.transfers import FileSpec, TransferMethods
from tusk.transport import Transport
from tusk_common.wire.versioning import CommitInfo, PutResult

if TYPE_CHECKING:
    import httpx


class Client(TransferMethods, PipelineMethods, LineageMethods):
    """A connection to one Tusk server.

    `url` defaults to `$TUSK_URL`, else `http://127.0.0.1:7080`. `timeout` bounds each network wait
    (connect, each read, each write), not a whole transfer. Methods raise the `tusk_common.errors` class
    the server answered with; an unreachable server is `Unavailable`. Safe to share between threads.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._t = Transport(url, timeout=timeout, transport=transport)

    @property
    def url(self) -> str:
        return self._t.url

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"tusk.Client({self.url!r})"

    def version(self) -> dict[str, Any]:
        """The server's version: `{"version": "0.1.0", "api": "v1"}`."""
        data = self._t.json("GET", routes.version())
        return dict(data or {})

    @contextmanager
    def commit(
        self, repo: str, branch: str, *, parent: str | None = None, description: str = ""
    ) -> Iterator[CommitHandle]:
        """Start a commit on `branch`; finish it when the block ends, delete it if the block raises.

        >>> with client.commit("images", "master", description="nightly") as c:
        ...     c.put_file("/a.png", "a.png")
        >>> c.info.state
        'finished'
        """
        with owned_commit(self, repo, branch, parent=parent, description=description) as target:
            assert target.started is not None
            handle = CommitHandle(self, repo, target.started)
            yield handle
        assert target.finished is not None
        handle.info = target.finished


class CommitHandle:
    """An open commit: writes made through it land in that commit."""

    def __init__(self, client: Client, repo: str, info: CommitInfo) -> None:
        self.client = client
        self.repo = repo
        self.info = info

    @property
    def id(self) -> str:
        return self.info.id

    def put_file(
        self,
        path: str,
        source: Source,
        *,
        append: bool = False,
        progress: Progress | None = None,
    ) -> FilePutResult:
        return self.client.put_file(self.repo, self.id, path, source, append=append, progress=progress)

    def put_files(
        self, files: Iterable[FileSpec], *, append: bool = False, parallel: int = 4,
        progress: Progress | None = None,
    ) -> UploadSummary:
        return self.client.put_files(
            self.repo, self.id, files, append=append, parallel=parallel, progress=progress
        )

    def put_dir(
        self, local_dir: str | os.PathLike[str], dest: str = "/", *, append: bool = False,
        parallel: int = 4, progress: Progress | None = None,
    ) -> UploadSummary:
        return self.client.put_dir(
            self.repo, self.id, local_dir, dest, append=append, parallel=parallel, progress=progress
        )

    def delete_file(self, path: str) -> PutResult:
        return self.client.delete_file(self.repo, self.id, path)

    def copy_file(self, src_repo: str, src_ref: str, src_path: str, dst_path: str) -> PutResult:
        return self.client.copy_file(src_repo, src_ref, src_path, self.repo, self.id, dst_path)

    def __repr__(self) -> str:
        return f"<CommitHandle {self.repo}@{self.id} {self.info.state}>"
