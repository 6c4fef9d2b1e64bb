"""What a write target already holds: path -> (size, content id) of every file below a directory, listed
in the background so that a multi-file upload can leave out the files it would not change."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from tusk_common.errors import NotFound
from tusk_common.wire.versioning import FileInfo

if TYPE_CHECKING:
    from tusk.files import FileMethods


class RemoteIndex:
    """Path -> (size, content id) of every file below `base` at the write target, listed in the
    background (each directory of `base` by its own request, `parallel` at a time)."""

    def __init__(self, client: FileMethods, repo: str, ref: str, base: str, parallel: int) -> None:
        self._client = client
        self._repo = repo
        self._ref = ref
        self._pool = ThreadPoolExecutor(max(2, parallel), thread_name_prefix="tusk-index")
        self._future = self._pool.submit(self._fetch, base)

    def get(self) -> dict[str, tuple[int, str]]:
        return self._future.result()

    def previous(self, path: str) -> tuple[int, str] | None:
        """(size, content id) of the file at `path` now, without waiting for the whole listing."""
        if self._future.done():
            return self._future.result().get(path)
        try:
            info = self._client.inspect_file(self._repo, self._ref, path)
        except NotFound:
            return None
        return (info.size, info.content.id) if info.type == "file" and info.content is not None else None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _fetch(self, base: str) -> dict[str, tuple[int, str]]:
        out: dict[str, tuple[int, str]] = {}
        try:
            top = list(self._client.list_files(self._repo, self._ref, base))
        except NotFound:
            return out
        subdirs = [self._pool.submit(self._fetch_below, f.path) for f in top if f.type == "dir"]
        out.update(_files(top))
        for sub in subdirs:
            out.update(sub.result())
        return out

    def _fetch_below(self, path: str) -> dict[str, tuple[int, str]]:
        return _files(self._client.list_files(self._repo, self._ref, path, recursive=True))


def _files(infos: Iterable[FileInfo]) -> dict[str, tuple[int, str]]:
    return {f.path: (f.size, f.content.id) for f in infos if f.type == "file" and f.content is not None}
