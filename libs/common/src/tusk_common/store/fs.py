"""The `fs` backend: one file per object under a root directory, blocking I/O in a bounded thread pool."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from tusk_common.errors import NotFound
from tusk_common.store.backend import Data, check_key

T = TypeVar("T")

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_LIST_BATCH = 1000  # keys fetched per hop to the thread pool while listing
_PUT_MANY_THREADS = 4  # threads one put_many spreads its objects over
# Temporary names: a random token per process (hosts and containers may share a volume) and a counter,
# cheaper than a uuid4 per object. `next()` on itertools.count is atomic under the GIL.
_TMP_TOKEN = uuid.uuid4().hex[:12]
_tmp_ids = itertools.count()


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
        self._max_workers = max_workers
        self._fsync = fsync

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def put(self, key: str, data: Data) -> None:
        await self._run(self._put, self._path(key), data)

    def _put(self, path: Path, data: Data) -> None:
        target = os.fspath(path)
        parent = os.path.dirname(target)
        tmp = f"{parent}/.tmp-{_TMP_TOKEN}-{os.getpid()}-{next(_tmp_ids)}"
        try:
            fd = os.open(tmp, _CREATE, 0o644)
        except FileNotFoundError:  # the first object of its directory: make it (and only then)
            os.makedirs(parent, exist_ok=True)
            fd = os.open(tmp, _CREATE, 0o644)
        try:
            try:
                _write_all(fd, data)
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if self._fsync:
            dir_fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    async def put_many(self, items: Sequence[tuple[str, Data]]) -> None:
        paths = [(self._path(key), data) for key, data in items]
        if not paths:
            return
        # Spread over a few threads: file creation is mostly waiting on the file system.
        share = -(-len(paths) // min(len(paths), _PUT_MANY_THREADS, self._max_workers))
        await asyncio.gather(*(
            self._run(self._put_all, paths[i : i + share]) for i in range(0, len(paths), share)
        ))

    def _put_all(self, items: list[tuple[Path, Data]]) -> None:
        for path, data in items:
            self._put(path, data)

    async def get(self, key: str) -> bytes:
        return await self._run(self._get, key, self._path(key))

    async def get_with(self, key: str, then: Callable[[bytes], T]) -> T:
        path = self._path(key)
        return await self._run(lambda: then(self._get(key, path)))

    @staticmethod
    def _get(key: str, path: Path) -> bytes:
        # os.read of the exact size: one allocation and one copy (FileIO.readall reads one byte more,
        # then shrinks the result, which costs a second pass over big objects).
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFound(f"no object {key!r}", key=key) from e
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, size) if size else b""
            if len(data) < size:  # a short read (rare on a regular file): collect the rest
                parts = [data]
                while (got := sum(map(len, parts))) < size and (more := os.read(fd, size - got)):
                    parts.append(more)
                data = b"".join(parts)
            return data
        except IsADirectoryError as e:
            raise NotFound(f"no object {key!r}", key=key) from e
        finally:
            os.close(fd)

    async def head(self, key: str, n: int) -> tuple[bytes, int]:
        return await self._run(self._head, key, self._path(key), n)

    @staticmethod
    def _head(key: str, path: Path, n: int) -> tuple[bytes, int]:
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFound(f"no object {key!r}", key=key) from e
        try:
            return os.pread(fd, n, 0), os.fstat(fd).st_size
        except IsADirectoryError as e:
            raise NotFound(f"no object {key!r}", key=key) from e
        finally:
            os.close(fd)

    async def get_range(self, key: str, offset: int, length: int) -> bytes:
        return await self._run(self._get_range, key, self._path(key), offset, length)

    @staticmethod
    def _get_range(key: str, path: Path, offset: int, length: int) -> bytes:
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFound(f"no object {key!r}", key=key) from e
        try:
            parts = []
            while length > 0 and (got := os.pread(fd, length, offset)):
                parts.append(got)
                offset, length = offset + len(got), length - len(got)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        except IsADirectoryError as e:
            raise NotFound(f"no object {key!r}", key=key) from e
        finally:
            os.close(fd)

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


def _write_all(fd: int, data: Data) -> None:
    """All of `data` (pieces with one `writev` where it takes them all, as it does on local files)."""
    pieces = data if isinstance(data, tuple) else (data,)
    views = [v for v in (memoryview(p).cast("B") for p in pieces) if v.nbytes]
    while views:
        n = os.writev(fd, views)
        while views and n >= views[0].nbytes:
            n -= views[0].nbytes
            views.pop(0)
        if views and n:
            views[0] = views[0][n:]
