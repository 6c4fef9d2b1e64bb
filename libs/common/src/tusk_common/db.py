"""Postgres: the asyncpg pool of a service's own schema and its forward-only migrations."""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from tusk_common.errors import Unavailable
from tusk_common.settings import DatabaseSettings

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(package: str) -> list[Migration]:
    """`NNN_name.sql` files shipped in `package`, in version order."""
    found: list[Migration] = []
    for entry in importlib.resources.files(package).iterdir():
        m = re.match(r"^(\d+)_(.+)\.sql$", entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text()))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {package}: {versions}")
    return found


class Connection(asyncpg.Connection):
    """A pooled connection released without asyncpg's reset query (`pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL`): one more round trip, and four statements of server time, on every release,
    which on the hot paths (a one-file commit, a datum's result) was a fifth of the round trips. Tusk sets
    no session state on a connection it gives back, except in the few places that hold an advisory lock
    or LISTEN: they call `keep_session_state()` first, and that connection gets the full reset on release
    (an open transaction is always rolled back by asyncpg)."""

    _session_state = False

    def keep_session_state(self) -> None:
        """This connection may hold advisory locks or LISTEN registrations: reset it fully on release."""
        self._session_state = True

    def get_reset_query(self) -> str:
        if self._session_state:
            self._session_state = False
            return str(super().get_reset_query())
        return ""


def keep_session_state(conn: object) -> None:
    """`Connection.keep_session_state` on a pooled connection (or its pool proxy); a no-op on any other."""
    mark = getattr(conn, "keep_session_state", None)
    if mark is not None:
        mark()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: DatabaseSettings, *, schema: str) -> asyncpg.Pool:
    """A pool whose connections see `schema` first; the schema is created if missing."""
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    dsn = settings.url.get_secret_value()
    try:
        conn = await asyncpg.connect(dsn, timeout=settings.command_timeout)
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(
            dsn,
            min_size=settings.pool_min,
            max_size=settings.pool_max,
            command_timeout=settings.command_timeout,
            server_settings={"search_path": f"{schema},public", "application_name": f"tusk-{schema}"},
            init=_init_connection,
            connection_class=Connection,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise Unavailable(f"cannot reach Postgres: {type(exc).__name__}: {exc}") from exc
    assert pool is not None
    return pool


async def _renumber(conn: asyncpg.Connection, schema: str, migrations: Sequence[Migration]) -> set[str]:
    """The names of the migrations applied, after moving any applied under another version to its
    version now (a release that renumbers one, such as the outbox moving behind a new migration, must
    neither skip the new one nor apply the old one twice)."""
    table = f"{schema}.schema_migrations"
    rows = await conn.fetch(f"SELECT version, name FROM {table}")
    wanted = {m.name: m.version for m in migrations}
    moved = [(r["version"], wanted[r["name"]]) for r in rows if r["name"] in wanted and wanted[r["name"]] != r["version"]]
    if moved:
        async with conn.transaction():
            for old, _ in moved:  # out of the way first: two may swap
                await conn.execute(f"UPDATE {table} SET version = $2 WHERE version = $1", old, -old - 1)
            for old, new in moved:
                await conn.execute(f"UPDATE {table} SET version = $2 WHERE version = $1", -old - 1, new)
    return {r["name"] for r in rows}


async def migrate(pool: asyncpg.Pool, *, schema: str, migrations: Sequence[Migration]) -> list[int]:
    """Apply the migrations not yet applied, each in its own transaction; returns the versions applied.

    A migration is known by its name: one applied under another version counts as applied and is
    recorded under its version now.

    Replicas starting together serialize on an advisory lock keyed by the schema name.
    """
    applied: list[int] = []
    async with pool.acquire() as conn:
        keep_session_state(conn)
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"tusk-migrate-{schema}")
        try:
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = await _renumber(conn, schema, migrations)
            for mig in migrations:
                if mig.name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(mig.sql)
                    await conn.execute(
                        f"INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)",
                        mig.version,
                        mig.name,
                    )
                applied.append(mig.version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"tusk-migrate-{schema}")
    return applied
