"""The `fs` backend: one file per object under a root directory, blocking I/O in a bounded thread pool."""

from __future__ import annotations

import asyncio
import builtins
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from tusk_common.errors import NotFound
from tusk_common.store.backend import check_key

T = TypeVar("T")

_LIST_BATCH = 1000  # keys fetched per hop to the thread pool while listing


class FsObjectStore:
    """Objects as files under `root` (`root/chunks/ab/abcdef…`).

    Writes go to a hidden temporary file in the target directory and are renamed into place, so a
    reader never sees a partial object. `fsync=True` also flushes file and directory to disk before the
    write returns (off by default: chunks are re-creatable from the upload until the commit finishes).
    """

    name = "fs"

    def __init__(
        self,
        root: Path,
        executor: Executor | None = None,
        *,
        max_workers: int = 8,
        fsync: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers, thread_name_prefix="tusk-fs")
        self._fsync = fsync

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def put(self, key: str, data: bytes | memoryview) -> None:
        await self._run(self._put, self._path(key), data)

    def _put(self, path: Path, data: bytes | memoryview) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                if self._fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self._fsync:
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    async def get(self, key: str) -> bytes:
        return await self._run(self._get, key, self._path(key))

    @staticmethod
    def _get(key: str, path: Path) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFound(f"no object {key!r}", key=key) from e

    async def exists(self, key: str) -> bool:
        return await self._run(os.path.isfile, self._path(key))

    async def delete(self, key: str) -> None:
        await self._run(self._delete, self._path(key))

    @staticmethod
    def _delete(path: Path) -> None:
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass

    async def list(self, prefix: str) -> AsyncIterator[str]:
        keys = self._walk(self.root, "", prefix)
        while batch := await self._run(lambda: builtins.list(itertools.islice(keys, _LIST_BATCH))):
            for key in batch:
                yield key

    def _walk(self, directory: Path, base: str, prefix: str) -> Iterator[str]:
        # Sort directories as "name/" so the keys come out in the same byte order S3 lists them.
        try:
            entries = builtins.list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        named = sorted(
            (e.name + "/" if e.is_dir() else e.name, e) for e in entries if not e.name.startswith(".")
        )
        for name, entry in named:
            key = base + name
            if name.endswith("/"):
                # Descend only where a key below could match the prefix.
                if key.startswith(prefix) or prefix.startswith(key):
                    yield from self._walk(Path(entry.path), key, prefix)
            elif key.startswith(prefix):
                yield key

    async def close(self) -> None:
        if self._owns_executor:
            await asyncio.to_thread(self._executor.shutdown, True)

    def __repr__(self) -> str:
        return f"FsObjectStore({str(self.root)!r})"
