"""A datum's files on disk: inputs materialized from the chunk store, outputs stored back as chunks.

Inputs land at `pfs/<input name>/<file path>` (Pachyderm's layout: the full path inside the repo).
Outputs are every regular file below `pfs/out`; a symlink to an input file is stored as that input's
content without reading it again, any other symlink is followed only when it stays inside `pfs/`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tusk_common.store import ChunkStore
from tusk_common.wire.pipelines import DatumInputFile, DatumTask
from tusk_common.wire.versioning import FileContent
from tusk_worker.runners import Slot

READ_BLOCK = 1 << 20


@dataclass
class Materialized:
    files: dict[Path, FileContent] = field(default_factory=dict)  # host path -> content
    bytes: int = 0
    seconds: float = 0.0


async def load_files(store: ChunkStore, ref: FileContent) -> list[DatumInputFile]:
    data = bytearray()
    async for block in store.read(ref):
        data += block
    return [DatumInputFile.model_validate(f) for f in json.loads(bytes(data))]


async def materialize(store: ChunkStore, slot: Slot, task: DatumTask, *, parallel: int = 16) -> Materialized:
    started = time.perf_counter()
    done = Materialized()
    todo: list[tuple[Path, FileContent, bool]] = []
    for inp in task.inputs:
        base = slot.pfs_dir / inp.name
        files = inp.files if inp.files_ref is None else await load_files(store, inp.files_ref)
        if not files:  # otherwise each file's own step makes its directories
            await asyncio.to_thread(base.mkdir, parents=True, exist_ok=True)
        for f in files:
            todo.append((base / f.path.lstrip("/"), f.content, inp.empty_files))
    gate = asyncio.Semaphore(parallel)

    async def one(path: Path, content: FileContent, empty: bool) -> None:
        async with gate:
            if empty or content.size <= READ_BLOCK:
                # A small file is one thread hop (directory and bytes): a trivial datum is mostly hops.
                data = b"" if empty else await _read_all(store, content)
                await asyncio.to_thread(_put, path, data)
            else:
                await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
                await _write(store, path, content)
            if not empty:
                done.bytes += content.size
            done.files[path] = content

    await asyncio.gather(*(one(*t) for t in todo))
    done.seconds = time.perf_counter() - started
    return done


async def _read_all(store: ChunkStore, content: FileContent) -> bytes:
    data = bytearray()
    async for block in store.read(content):
        data += block
    return bytes(data)


def _put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def _write(store: ChunkStore, path: Path, content: FileContent) -> None:
    fh = await asyncio.to_thread(open, path, "wb")
    try:
        async for block in store.read(content):
            await asyncio.to_thread(fh.write, block)
    finally:
        await asyncio.to_thread(fh.close)


@dataclass
class Collected:
    outputs: dict[str, FileContent]
    bytes: int
    seconds: float
    skipped: list[str]  # outputs that could not be stored (symlinks leaving /pfs, sockets...)


async def collect(store: ChunkStore, slot: Slot, inputs: dict[Path, FileContent], *, parallel: int = 16) -> Collected:
    started = time.perf_counter()
    out_dir = slot.pfs_dir / "out"
    found, skipped = await asyncio.to_thread(_scan, out_dir, slot)
    outputs: dict[str, FileContent] = {}
    gate = asyncio.Semaphore(parallel)
    total = 0

    async def one(rel: str, real: Path) -> None:
        nonlocal total
        async with gate:
            known = inputs.get(real)
            content = known if known is not None else await _store(store, real)
            outputs["/" + rel] = content
            if known is None:
                total += content.size

    await asyncio.gather(*(one(rel, real) for rel, real in found))
    return Collected(outputs=dict(sorted(outputs.items())), bytes=total,
                     seconds=time.perf_counter() - started, skipped=skipped)  # fmt: skip


def _scan(out_dir: Path, slot: Slot) -> tuple[list[tuple[str, Path]], list[str]]:
    found: list[tuple[str, Path]] = []
    skipped: list[str] = []
    pfs_real = os.path.realpath(slot.pfs_dir)
    for dirpath, dirnames, filenames in os.walk(out_dir, followlinks=False):
        entries = list(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in entries:
            full = Path(dirpath) / name
            rel = full.relative_to(out_dir).as_posix()
            real = _resolve(full, slot, pfs_real)
            if real is None or not real.is_file():
                skipped.append("/" + rel)
                continue
            found.append((rel, real))
    return found, skipped


def _resolve(path: Path, slot: Slot, pfs_real: str) -> Path | None:
    """The regular file a path names, following symlinks only inside the slot's pfs directory."""
    seen = 0
    current = path
    while current.is_symlink():
        seen += 1
        if seen > 16:
            return None
        target = os.readlink(current)
        if target.startswith(slot.pfs + "/") or target == slot.pfs:
            current = slot.pfs_dir / target[len(slot.pfs) :].lstrip("/")  # a /pfs path seen from inside
        elif os.path.isabs(target):
            current = Path(target)
        else:
            current = current.parent / target
    real = os.path.realpath(current)
    if not (real == pfs_real or real.startswith(pfs_real + os.sep)):
        return None
    return Path(real)


def _read_small(path: Path, limit: int) -> bytes | None:
    """The whole file if it is shorter than `limit` bytes, else None."""
    with open(path, "rb") as fh:
        data = fh.read(limit)
    return data if len(data) < limit else None


async def _store(store: ChunkStore, path: Path) -> FileContent:
    # A file below the minimum chunk size is one chunk: read in one hop, hashed and put in one more.
    small = await asyncio.to_thread(_read_small, path, store.settings.chunk_min)
    if small is not None:
        return await store.write_small(small)
    fh = await asyncio.to_thread(open, path, "rb")
    try:
        async with store.writer() as w:
            while True:
                block = await asyncio.to_thread(fh.read, READ_BLOCK)
                if not block:
                    break
                await w.write(block)
            return await w.finish()
    finally:
        await asyncio.to_thread(fh.close)
