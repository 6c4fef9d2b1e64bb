"""The Postgres catalog: repos, branches, commits, staged changes and file contents.

Every method takes the connection of the caller's transaction, so a use case composes them into one
atomic change (together with its outbox events).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from tusk_common.wire.versioning import FileContent
from tusk_versioning.domain.nodes import Meta
from tusk_versioning.domain.records import Branch, Commit, Repo, StagedChange

Conn: TypeAlias = asyncpg.Connection
_BUILD_STEP = 512  # models built between two yields to the event loop
COMMIT_NOTIFY = "tusk_versioning_commit"
_COMMIT_COLS = (
    "id, repo, branch, parent, origin, commit_set, description, state, started_at, finished_at, error,"
    " root, size_bytes, file_count, staged_seq"
)


def _commit(row: Any) -> Commit:
    return Commit(**dict(row))


# ---------------------------------------------------------------- repos


async def get_repo(conn: Conn, name: str, *, lock: bool = False) -> Repo | None:
    row = await conn.fetchrow(
        "SELECT name, description, default_branch, created_at FROM repos WHERE name = $1"
        + (" FOR UPDATE" if lock else ""),
        name,
    )
    return Repo(**dict(row)) if row else None


async def insert_repo(conn: Conn, name: str, description: str) -> Repo | None:
    """The new repo, or None when one of that name exists."""
    row = await conn.fetchrow(
        "INSERT INTO repos (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        " RETURNING name, description, default_branch, created_at",
        name,
        description,
    )
    return Repo(**dict(row)) if row else None


async def set_repo_description(conn: Conn, name: str, description: str) -> None:
    await conn.execute("UPDATE repos SET description = $2 WHERE name = $1", name, description)


async def list_repos(conn: Conn) -> list[Repo]:
    rows = await conn.fetch("SELECT name, description, default_branch, created_at FROM repos ORDER BY name")
    return [Repo(**dict(r)) for r in rows]


async def repo_users(conn: Conn, repo: str) -> list[tuple[str, str]]:
    """(pipeline, role) of every pipeline recorded as reading (`input`) or writing (`output`) `repo`."""
    rows = await conn.fetch("SELECT pipeline, role FROM repo_users WHERE repo = $1 ORDER BY pipeline, role", repo)
    return [(r["pipeline"], r["role"]) for r in rows]


async def set_repo_users(conn: Conn, pipeline: str, uses: Sequence[tuple[str, str]]) -> None:
    """Replace the (repo, role) rows of `pipeline`."""
    await conn.execute("DELETE FROM repo_users WHERE pipeline = $1", pipeline)
    if uses:
        await conn.execute(
            "INSERT INTO repo_users (repo, pipeline, role) SELECT r, $1, role FROM unnest($2::text[], $3::text[])"
            " AS u(r, role)",
            pipeline, [r for r, _ in uses], [role for _, role in uses],
        )  # fmt: skip


async def delete_repo(conn: Conn, name: str) -> None:
    await conn.execute("DELETE FROM branches WHERE repo = $1", name)
    await conn.execute("DELETE FROM repos WHERE name = $1", name)


async def repo_stats(conn: Conn, names: Sequence[str]) -> dict[str, tuple[list[str], int, int]]:
    """Per repo: branch names, and size and file count of the default branch's head."""
    rows = await conn.fetch(
        "SELECT r.name, coalesce(array_agg(b.name ORDER BY b.name) FILTER (WHERE b.name IS NOT NULL), '{}')"
        " AS branches, max(c.size_bytes) FILTER (WHERE b.name = r.default_branch) AS size,"
        " max(c.file_count) FILTER (WHERE b.name = r.default_branch) AS files"
        " FROM repos r LEFT JOIN branches b ON b.repo = r.name LEFT JOIN commits c ON c.id = b.head"
        " WHERE r.name = ANY($1::text[]) GROUP BY r.name",
        list(names),
    )
    return {r["name"]: (list(r["branches"]), r["size"] or 0, r["files"] or 0) for r in rows}


# ---------------------------------------------------------------- branches


async def get_branch(conn: Conn, repo: str, name: str, *, lock: bool = False) -> Branch | None:
    row = await conn.fetchrow(
        "SELECT repo, name, head, created_at FROM branches WHERE repo = $1 AND name = $2"
        + (" FOR UPDATE" if lock else ""),
        repo,
        name,
    )
    return Branch(**dict(row)) if row else None


async def insert_branch(conn: Conn, repo: str, name: str, head: str | None) -> Branch:
    row = await conn.fetchrow(
        "INSERT INTO branches (repo, name, head) VALUES ($1, $2, $3) RETURNING repo, name, head, created_at",
        repo,
        name,
        head,
    )
    return Branch(**dict(row))


async def set_head(conn: Conn, repo: str, name: str, head: str | None) -> None:
    await conn.execute("UPDATE branches SET head = $3 WHERE repo = $1 AND name = $2", repo, name, head)


async def list_branches(conn: Conn, repo: str) -> list[Branch]:
    rows = await conn.fetch(
        "SELECT repo, name, head, created_at FROM branches WHERE repo = $1 ORDER BY name", repo
    )
    return [Branch(**dict(r)) for r in rows]


async def branches_at(conn: Conn, commit_id: str, *, lock: bool = False) -> list[Branch]:
    rows = await conn.fetch(
        "SELECT repo, name, head, created_at FROM branches WHERE head = $1 ORDER BY name"
        + (" FOR UPDATE" if lock else ""),
        commit_id,
    )
    return [Branch(**dict(r)) for r in rows]


async def delete_branch(conn: Conn, repo: str, name: str) -> None:
    await conn.execute("DELETE FROM branches WHERE repo = $1 AND name = $2", repo, name)


# ---------------------------------------------------------------- commits


async def get_commit(conn: Conn, commit_id: str, *, lock: bool = False) -> Commit | None:
    row = await conn.fetchrow(
        f"SELECT {_COMMIT_COLS} FROM commits WHERE id = $1" + (" FOR UPDATE" if lock else ""), commit_id
    )
    return _commit(row) if row else None


async def insert_head_commit(conn: Conn, c: Commit) -> Commit:
    """Insert a commit and move its branch's head to it, in one statement."""
    assert c.branch is not None
    row = await conn.fetchrow(
        "WITH moved AS (UPDATE branches SET head = $1 WHERE repo = $2 AND name = $3)"
        " INSERT INTO commits (id, repo, branch, parent, origin, commit_set, description, state, root,"
        " size_bytes, file_count, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " CASE WHEN $8 = 'finished' THEN clock_timestamp() END)"
        f" RETURNING {_COMMIT_COLS}",
        c.id, c.repo, c.branch, c.parent, c.origin, c.commit_set, c.description, c.state, c.root,
        c.size_bytes, c.file_count,
    )  # fmt: skip
    return _commit(row)


async def lock_branch_head(conn: Conn, repo: str, name: str) -> tuple[Branch, Commit | None] | None:
    """The branch row, locked, with its head commit; None when the branch is missing.

    One round trip unless the lock had to be waited for (then the head is read again).
    """
    cols = ", ".join(f"c.{c.strip()} AS c_{c.strip()}" for c in _COMMIT_COLS.split(","))
    row = await conn.fetchrow(
        f"SELECT b.repo, b.name, b.head, b.created_at, {cols} FROM branches b"
        " LEFT JOIN commits c ON c.id = b.head WHERE b.repo = $1 AND b.name = $2 FOR UPDATE OF b",
        repo,
        name,
    )
    if row is None:
        return None
    branch = Branch(row["repo"], row["name"], row["head"], row["created_at"])
    if row["head"] is None:
        return branch, None
    if row["c_id"] != row["head"]:
        # We waited for the lock and the head moved meanwhile: the join still saw the old snapshot.
        return branch, await get_commit(conn, row["head"])
    return branch, Commit(**{k[2:]: v for k, v in row.items() if k.startswith("c_")})


async def finish_commit(
    conn: Conn, commit_id: str, *, root: str, size: int, count: int, description: str | None, error: str | None
) -> Commit:
    """Mark finished, drop its staging log and wake waiters, in one statement."""
    row = await conn.fetchrow(
        "WITH dropped AS (DELETE FROM staged WHERE commit_id = $1),"
        " done AS (UPDATE commits SET state = 'finished', finished_at = clock_timestamp(), root = $2,"
        " size_bytes = $3, file_count = $4, description = coalesce($5, description), error = $6"
        f" WHERE id = $1 RETURNING {_COMMIT_COLS})"
        " SELECT done.*, pg_notify($7, $1) FROM done",
        commit_id, root, size, count, description, error, COMMIT_NOTIFY,
    )  # fmt: skip
    return _commit({k: v for k, v in row.items() if k != "pg_notify"})


async def share_lock_commit(conn: Conn, commit_id: str) -> bool:
    """Keep a commit from being deleted or squashed until the transaction ends; False if it is gone."""
    return bool(await conn.fetchval("SELECT true FROM commits WHERE id = $1 FOR SHARE", commit_id))


async def children(conn: Conn, commit_id: str) -> list[str]:
    return [r["id"] for r in await conn.fetch("SELECT id FROM commits WHERE parent = $1 ORDER BY id", commit_id)]


async def reparent(conn: Conn, old: str, new: str | None) -> None:
    await conn.execute("UPDATE commits SET parent = $2 WHERE parent = $1", old, new)


async def delete_commit(conn: Conn, commit_id: str) -> None:
    await conn.execute("DELETE FROM commits WHERE id = $1", commit_id)
    await conn.execute("SELECT pg_notify($1, $2)", COMMIT_NOTIFY, commit_id)


async def count_in_set(conn: Conn, commit_set: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM commits WHERE commit_set = $1", commit_set))


async def ancestor(conn: Conn, commit_id: str, n: int) -> str | None:
    """The id of the n-th ancestor of a commit, or None when the history is shorter."""
    return await conn.fetchval(
        "WITH RECURSIVE anc(id, parent, depth) AS ("
        " SELECT id, parent, 0 FROM commits WHERE id = $1"
        " UNION ALL SELECT c.id, c.parent, anc.depth + 1 FROM commits c JOIN anc ON c.id = anc.parent"
        " WHERE anc.depth < $2)"
        " SELECT id FROM anc WHERE depth = $2",
        commit_id,
        n,
    )


async def history(conn: Conn, start: str, limit: int) -> list[Commit]:
    """`start` and its ancestors, newest first."""
    cols = ", ".join(f"c.{c.strip()}" for c in _COMMIT_COLS.split(","))
    rows = await conn.fetch(
        "WITH RECURSIVE anc(id, depth) AS ("
        " SELECT id, 0 FROM commits WHERE id = $1"
        " UNION ALL SELECT c.parent, anc.depth + 1 FROM commits c JOIN anc ON c.id = anc.id"
        " WHERE c.parent IS NOT NULL AND anc.depth < $2)"
        f" SELECT {cols} FROM anc JOIN commits c ON c.id = anc.id ORDER BY anc.depth LIMIT $2",
        start,
        limit,
    )
    return [_commit(r) for r in rows]


async def list_commits(conn: Conn, repo: str, before: tuple[datetime, str] | None, limit: int) -> list[Commit]:
    """Every commit of a repo, newest first, strictly older than `before` (started_at, id)."""
    if before is None:
        rows = await conn.fetch(
            f"SELECT {_COMMIT_COLS} FROM commits WHERE repo = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
            repo,
            limit,
        )
    else:
        rows = await conn.fetch(
            f"SELECT {_COMMIT_COLS} FROM commits WHERE repo = $1 AND (started_at, id) < ($2, $3)"
            " ORDER BY started_at DESC, id DESC LIMIT $4",
            repo,
            before[0],
            before[1],
            limit,
        )
    return [_commit(r) for r in rows]


# ---------------------------------------------------------------- staging


async def stage(conn: Conn, commit_id: str, first_seq: int, changes: Sequence[StagedChange]) -> int:
    """Append changes (already compacted among themselves), dropping earlier rows of the same paths
    that they replace. Returns the last seq."""
    replacing = [c.path for c in changes if c.op == "delete" or c.kind == "file"]
    if replacing:
        await conn.execute(
            "DELETE FROM staged WHERE commit_id = $1 AND path = ANY($2::text[])", commit_id, replacing
        )
    seqs = list(range(first_seq, first_seq + len(changes)))
    await conn.execute(
        "INSERT INTO staged (commit_id, seq, path, op, kind, hash, size, file_count, meta)"
        " SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::bigint[], $8::bigint[], $9::text[])",
        commit_id, seqs, [c.path for c in changes], [c.op for c in changes], [c.kind for c in changes],
        [c.hash for c in changes], [c.size for c in changes], [c.files for c in changes],
        [_meta_text(c.meta) for c in changes],
    )  # fmt: skip
    last = first_seq + len(changes) - 1
    await conn.execute("UPDATE commits SET staged_seq = $2 WHERE id = $1", commit_id, last)
    return last


async def staged_since(conn: Conn, commit_id: str, after_seq: int) -> list[StagedChange]:
    rows = await conn.fetch(
        "SELECT seq, path, op, kind, hash, size, file_count AS files, meta FROM staged"
        " WHERE commit_id = $1 AND seq > $2 ORDER BY seq",
        commit_id,
        after_seq,
    )
    return [
        StagedChange(
            r["seq"], r["path"], r["op"], r["kind"], r["hash"], r["size"] or 0, r["files"] or 0,
            tuple((k, v) for k, v in json.loads(r["meta"])) if r["meta"] else (),
        )
        for r in rows
    ]


def _meta_text(meta: Meta) -> str | None:
    """A staged file's metadata as compact JSON pairs (already canonical: sorted by key)."""
    return json.dumps(meta, ensure_ascii=False, separators=(",", ":")) if meta else None


# ---------------------------------------------------------------- contents


async def save_contents(conn: Conn, contents: Iterable[FileContent]) -> None:
    unique = {c.id: c for c in contents}
    if not unique:
        return
    vals = [unique[k] for k in sorted(unique)]  # one lock order for concurrent writers
    # A row is never moved off a pack location, nor onto one: every location ever recorded stays valid
    # (a chunk is written, loose or packed, before any content names it).
    await conn.execute(
        "INSERT INTO contents (id, size, md5, chunks, pack)"
        " SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[])"
        " ON CONFLICT (id) DO UPDATE SET md5 = coalesce(contents.md5, excluded.md5),"
        " chunks = coalesce(contents.chunks, excluded.chunks)"
        " WHERE (contents.md5 IS NULL AND excluded.md5 IS NOT NULL)"
        " OR (contents.chunks IS NULL AND excluded.chunks IS NOT NULL)",
        [c.id for c in vals], [c.size for c in vals], [c.md5 for c in vals], [c.chunks for c in vals],
        [c.pack for c in vals],
    )  # fmt: skip


async def load_contents(conn: Conn, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored fields of each content (`FileContent`'s, as a dict), by id; unknown ids are left out.

    Plain dicts: a listing validates thousands of them at once into its reply models, which costs
    less than building one model per row here."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await conn.fetch("SELECT id, size, md5, chunks, pack FROM contents WHERE id = ANY($1::text[])", wanted)
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(rows), _BUILD_STEP):
        if i:
            await asyncio.sleep(0)  # thousands of rows: let small requests in between
        for r in rows[i : i + _BUILD_STEP]:
            out[r[0]] = {"id": r[0], "size": r[1], "md5": r[2], "chunks": r[3]}
            if r[4] is not None:  # most contents are not packed: their replies stay as they were
                out[r[0]]["pack"] = r[4]
    return out
