"""The object-store port: a flat namespace of immutable raw objects, and the factory that opens one.

Keys are relative, `/`-separated paths (`chunks/ab/abcdef…`). Objects are written whole and atomically;
writing a key again must write the same bytes (the chunk store is content-addressed), so `put` may
simply replace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from tusk_common.errors import Invalid
from tusk_common.settings import S3Settings, StoreSettings

T = TypeVar("T")
Data = bytes | memoryview | tuple[bytes | memoryview, ...]
"""An object's bytes: whole, or in pieces stored back to back."""


def data_length(data: Data) -> int:
    return sum(map(len, data)) if isinstance(data, tuple) else len(data)


def joined(data: Data) -> bytes | memoryview:
    return b"".join(data) if isinstance(data, tuple) else data


@runtime_checkable
class ObjectStore(Protocol):
    """An async raw-object backend (`fs` or `s3`); every implementation passes the contract suite."""

    async def put(self, key: str, data: Data) -> None:
        """Store `data` at `key` atomically: readers see the old object or the whole new one. `data`
        may come in pieces (a tuple), stored back to back without joining them first where possible."""
        ...

    async def put_many(self, items: Sequence[tuple[str, Data]]) -> None:
        """`put` of every `(key, data)`, in as few hops to the I/O threads as the backend can manage."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes at `key`; raises `NotFound`."""
        ...

    async def get_with(self, key: str, then: Callable[[bytes], T]) -> T:
        """`then(bytes at key)`, run on the I/O thread that fetched them (one hop for a fetch and its
        check); raises `NotFound`, or what `then` raises."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored at `key`."""
        ...

    async def head(self, key: str, n: int) -> tuple[bytes, int]:
        """The first `n` bytes at `key` (fewer if it is shorter) and its whole size; raises `NotFound`."""
        ...

    async def get_range(self, key: str, offset: int, length: int) -> bytes:
        """The `length` bytes at `offset` of the object at `key` (fewer where it ends); raises `NotFound`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; nothing happens when it is missing."""
        ...

    def list(self, prefix: str) -> AsyncIterator[str]:
        """Every key starting with `prefix`, in lexicographic order (`async for key in store.list(p)`)."""
        ...

    async def close(self) -> None:
        """Release threads and connections; the store is unusable afterwards."""
        ...


def check_key(key: str) -> str:
    """Reject keys that could escape the store's root or are not canonical paths."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise Invalid(f"bad object key {key!r}", field="key")
    return key


async def open_object_store(store: StoreSettings, s3: S3Settings) -> ObjectStore:
    """Open the backend `store.backend` names; the caller closes it."""
    if store.backend == "fs":
        from tusk_common.store.fs import FsObjectStore

        return FsObjectStore(Path(store.path), max_workers=store.io_workers)
    from tusk_common.store.s3 import S3ObjectStore

    backend = S3ObjectStore(s3)
    try:
        await backend.open()
    except BaseException:
        await backend.close()
        raise
    return backend
