"""Use cases on files: put, copy, inspect, list, glob, diff."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
from pydantic import TypeAdapter

from tusk_common.errors import Invalid, NotFound
from tusk_common.wire.versioning import (
    MAX_FILE_META_BYTES,
    DiffEntry,
    DiffList,
    FileChange,
    FileInfo,
    FileList,
    PutResult,
)
from tusk_versioning.adapters import catalog
from tusk_versioning.deps import Deps
from tusk_versioning.domain.cursors import decode_path_cursor, encode_path_cursor
from tusk_versioning.domain.diff import Side, diff
from tusk_versioning.domain.glob import compile_glob
from tusk_versioning.domain.nodes import EMPTY_HASH, Entry, Meta, meta_of
from tusk_versioning.domain.records import StagedChange
from tusk_versioning.domain.tree import Parts, join, lookup, root_entry, split, walk
from tusk_versioning.priority import WritesFirst
from tusk_versioning.resolve import check_path, resolve_commit
from tusk_versioning.views import Snapshot
from tusk_versioning.writes import Write, write

# Long listings and diffs give the event loop back this often (in entries), so that a small request
# (a finish, a stat) arriving meanwhile waits for a sliver of them, not for all of them.
YIELD_EVERY = 128
VALIDATE_STEP = 256  # reply models validated between two yields
SMALL_WRITE = 16  # puts of at most this many changes go before bulk reads (bigger batches are bulk too)

_FILE_INFOS = TypeAdapter(list[FileInfo])
_DIFF_ENTRIES = TypeAdapter(list[DiffEntry])


def _meta(i: int, meta: dict[str, str] | None) -> Meta:
    if not meta:
        return ()
    if any(not k for k in meta):
        raise Invalid(f"changes.{i}: metadata keys must not be empty", field=f"changes.{i}.meta")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())
    if size > MAX_FILE_META_BYTES:
        raise Invalid(
            f"changes.{i}: metadata of {size} bytes is more than {MAX_FILE_META_BYTES}",
            field=f"changes.{i}.meta", limit=MAX_FILE_META_BYTES,
        )  # fmt: skip
    return meta_of(meta)


def _staged(i: int, ch: FileChange) -> StagedChange:
    field = f"changes.{i}.path"
    if ch.op == "delete":
        return StagedChange(0, check_path(ch.path, field=field), "delete")
    path = check_path(ch.path, field=field, allow_root=False)
    if ch.content is None or not ch.content.id:
        raise Invalid(f"changes.{i}: a put needs the content the chunk store wrote", field=f"changes.{i}.content")
    return StagedChange(0, path, "put", "file", ch.content.id, ch.content.size, 1, _meta(i, ch.meta))


async def put_files(deps: Deps, repo: str, ref: str, changes: Sequence[FileChange], description: str) -> PutResult:
    if not changes:
        raise Invalid("changes must not be empty", field="changes")
    staged = [_staged(i, ch) for i, ch in enumerate(changes)]
    contents = [ch.content for ch in changes if ch.op == "put" and ch.content is not None]
    async with deps.priority.write() if len(changes) <= SMALL_WRITE else contextlib.nullcontext():
        return await write(deps, repo, ref, Write(staged, contents, description=description))


async def _snapshot(conn: asyncpg.Connection, deps: Deps, repo: str, ref: str, *, field: str = "ref") -> Snapshot:
    repo_field = "repo" if field == "ref" else f"{field.removesuffix('_ref')}_repo"
    return await deps.views.snapshot(conn, await resolve_commit(conn, repo, ref, field=field, repo_field=repo_field))


async def _entry(snap: Snapshot, parts: Parts) -> Entry:
    e = await lookup(snap.reader, snap.root, parts)
    if e is None:
        raise NotFound(
            f"{join(parts)} not found in commit {snap.commit.id} of repo {snap.commit.repo!r}",
            path=join(parts), repo=snap.commit.repo, commit=snap.commit.id,
        )  # fmt: skip
    return e


async def copy_file(
    deps: Deps, src_repo: str, src_ref: str, src_path: str, dst_repo: str, dst_ref: str, dst_path: str,
    description: str,
) -> PutResult:  # fmt: skip
    """Copy a file or a directory by reference: only the pointer moves, never bytes or nodes."""
    src_parts = split(check_path(src_path, field="src_path"))
    async with deps.pool.acquire() as conn:
        snap = await _snapshot(conn, deps, src_repo, src_ref, field="src_ref")
        e = await _entry(snap, src_parts)
    dst = check_path(dst_path, field="dst_path", allow_root=e.kind == "dir")
    change = StagedChange(0, dst, "put", e.kind, e.hash, e.size, e.files, e.meta)
    # A directory of an open commit may live only in that commit's in-memory view: store its nodes.
    nodes = snap.unsaved if e.kind == "dir" else None
    return await write(deps, dst_repo, dst_ref, Write([change], nodes=nodes, description=description))


async def _infos(
    conn: asyncpg.Connection, commit: str, items: Sequence[tuple[Parts, Entry]], priority: WritesFirst | None = None
) -> list[FileInfo]:
    contents = await catalog.load_contents(conn, (e.hash for _, e in items if e.kind == "file"))
    raw: list[dict[str, Any]] = []
    for i, (parts, e) in enumerate(items):
        if i % YIELD_EVERY == YIELD_EVERY - 1:
            await _pause(priority)  # a page of thousands must not hold up small requests behind it
        if e.kind == "file":
            raw.append({
                "path": join(parts), "type": "file", "size": e.size, "file_count": 1, "commit": commit,
                "content": contents.get(e.hash) or {"id": e.hash, "size": e.size},
                "meta": dict(e.meta) if e.meta else None,
            })  # fmt: skip
        else:
            raw.append({"path": join(parts), "type": "dir", "size": e.size, "file_count": e.files, "commit": commit})
    # Listings and diffs build thousands of these: validating them in pydantic-core, a slice at a time,
    # costs a third of constructing them one by one in Python (and every field is checked again).
    out: list[FileInfo] = []
    for i in range(0, len(raw), VALIDATE_STEP):
        if i:
            await _pause(priority)
        out += _FILE_INFOS.validate_python(raw[i : i + VALIDATE_STEP])
    return out


async def _pause(priority: WritesFirst | None) -> None:
    """A bulk read's yield point: the event loop back, and a wait while writes run (see `priority`)."""
    if priority is None:
        await asyncio.sleep(0)
    else:
        await priority.pause()


async def inspect_file(deps: Deps, repo: str, ref: str, path: str) -> FileInfo:
    parts = split(check_path(path))
    async with deps.pool.acquire() as conn:
        snap = await _snapshot(conn, deps, repo, ref)
        e = await _entry(snap, parts)
        return (await _infos(conn, snap.commit.id, [(parts, e)]))[0]


def _relative_cursor(cursor: str | None, below: Parts) -> Parts | None:
    after = decode_path_cursor(cursor)
    if after is None:
        return None
    if after[: len(below)] != below:
        raise Invalid("cursor is not one this listing returned", field="cursor")
    return after[len(below) :]


async def _page(
    conn: asyncpg.Connection, snap: Snapshot, items: AsyncIterator[tuple[Parts, Entry]], limit: int,
    priority: WritesFirst,
) -> FileList:
    got: list[tuple[Parts, Entry]] = []
    async for item in items:
        got.append(item)
        if len(got) > limit:
            break
        if len(got) % YIELD_EVERY == 0:
            await priority.pause()
    page = got[:limit]
    cursor = encode_path_cursor(page[-1][0]) if len(got) > limit else None
    return FileList(files=await _infos(conn, snap.commit.id, page, priority), next_cursor=cursor)


async def list_files(
    deps: Deps, repo: str, ref: str, path: str, recursive: bool, limit: int, cursor: str | None
) -> FileList:
    """One directory's entries (files and dirs, by name), or with `recursive` every file below it."""
    parts = split(check_path(path))
    async with deps.priority.bulk(), deps.pool.acquire() as conn:
        snap = await _snapshot(conn, deps, repo, ref)
        e = await _entry(snap, parts)
        if e.kind == "file":
            return FileList(files=[] if cursor else await _infos(conn, snap.commit.id, [(parts, e)]))
        after = _relative_cursor(cursor, parts)

        async def items() -> AsyncIterator[tuple[Parts, Entry]]:
            async for sub, entry in walk(
                snap.reader, e.hash, parts, after=after, descend=lambda _p: recursive
            ):
                if not recursive or entry.kind == "file":
                    yield sub, entry

        return await _page(conn, snap, items(), limit, deps.priority)


async def glob_files(deps: Deps, repo: str, ref: str, pattern: str, limit: int, cursor: str | None) -> FileList:
    """Files and directories whose path matches a Pachyderm glob, in depth-first name order."""
    g = compile_glob(pattern)
    async with deps.priority.bulk(), deps.pool.acquire() as conn:
        snap = await _snapshot(conn, deps, repo, ref)
        if g.is_root:
            root = root_entry(await snap.reader.get(snap.root), snap.root)
            return FileList(files=[] if cursor else await _infos(conn, snap.commit.id, [((), root)]))
        after = _relative_cursor(cursor, ())

        async def items() -> AsyncIterator[tuple[Parts, Entry]]:
            async for sub, entry in walk(snap.reader, snap.root, (), after=after, descend=g.may_descend):
                if g.match(join(sub)):
                    yield sub, entry

        return await _page(conn, snap, items(), limit, deps.priority)


async def diff_files(
    deps: Deps, repo: str, ref: str, base: str | None, base_repo: str | None, path: str, limit: int,
    cursor: str | None,
) -> DiffList:  # fmt: skip
    """Files added, deleted or modified from `base` (default: the parent of `ref`) to `ref`, below `path`."""
    parts = split(check_path(path))
    async with deps.priority.bulk(), deps.pool.acquire() as conn:
        new = await _snapshot(conn, deps, repo, ref)
        if base is not None or base_repo is not None:
            old = await _snapshot(conn, deps, base_repo or repo, base or ref, field="base")
            old_reader, old_root, old_commit = old.reader, old.root, old.commit.id
        elif new.commit.parent is not None:
            parent = await catalog.get_commit(conn, new.commit.parent)
            assert parent is not None
            old_reader, old_root, old_commit = deps.views.reader(conn), parent.root, parent.id
        else:
            old_reader, old_root, old_commit = deps.views.reader(conn), EMPTY_HASH, ""
        a = await lookup(old_reader, old_root, parts)
        b = await lookup(new.reader, new.root, parts)
        if a is None and b is None:
            raise NotFound(f"{join(parts)} exists in neither commit", path=join(parts))
        after = _relative_cursor(cursor, parts)
        got = []
        async for c in diff(Side(old_reader, a), Side(new.reader, b), parts, after=after):
            got.append(c)
            if len(got) > limit:
                break
            if len(got) % YIELD_EVERY == 0:
                await deps.priority.pause()
        page = got[:limit]
        olds = await _infos(conn, old_commit, [(c.parts, c.old) for c in page if c.old is not None], deps.priority)
        news = await _infos(conn, new.commit.id, [(c.parts, c.new) for c in page if c.new is not None], deps.priority)
    old_by, new_by = {i.path: i for i in olds}, {i.path: i for i in news}
    raw = []
    for c in page:
        p = join(c.parts)
        raw.append({"path": p, "change": c.change, "old": old_by.get(p), "new": new_by.get(p)})
    # The FileInfos are models already (taken as they are); the entries are validated in one go.
    entries = _DIFF_ENTRIES.validate_python(raw)
    return DiffList.model_construct(
        changes=entries, next_cursor=encode_path_cursor(page[-1].parts) if len(got) > limit else None
    )

