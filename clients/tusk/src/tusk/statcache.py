"""The local stat cache: what a file's bytes hashed to the last time it was read, so that `put -r` of a
tree the target already holds need not read unchanged files again (as git's index, restic and DVC do).

A row is keyed by the file's absolute path and the chunking parameters, and holds the stamp the file had
when it was read (size, mtime_ns, inode, device, ctime_ns), when that was (`hashed_ns`), and its content
id and packed manifest. A lookup trusts a row only when every field of the stamp is equal, and only when
the mtime was at least `RACY_NS` older than the read: a file written within that window of being hashed
could change again without its mtime moving (coarse timestamps), so it is hashed again next time, as git
treats "racily clean" entries. ctime and inode catch what size and mtime miss: `touch -d` setting an
old mtime, or a file replaced by another through a rename.

The cache is an optimisation only: it says nothing about what a server holds (an upload still compares
content ids with the target's listing), it is per user (`$TUSK_CACHE_DIR`, else `$XDG_CACHE_HOME/tusk`,
else `~/.cache/tusk`), any error turns it off for the run, a damaged file is replaced by an empty one,
and `TUSK_STAT_CACHE=0` disables it. Rows not hashed again for 90 days (files deleted or moved since,
mostly) are dropped by the first run of a day, so the file does not only grow.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tusk.batches import Stamp

FILE_NAME = "stat-cache.sqlite"
SCHEMA_VERSION = 1
RACY_NS = 2_000_000_000  # a file modified this close to being hashed is hashed again next time
LOOKUP_STEP = 500  # paths per SELECT (well below SQLite's bound on bound parameters)
FLUSH_ROWS = 5000  # rows buffered before they are written
BUSY_TIMEOUT_MS = 2000  # another `tusk` writing the cache: wait this long, then go on without it
STALE_NS = 90 * 86_400 * 1_000_000_000  # rows not hashed again for this long are dropped (deleted files)...
PRUNE_EVERY_NS = 86_400 * 1_000_000_000  # ...by the first run of a day (a full scan, so not every run)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT NOT NULL,
    params TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    dev INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    hashed_ns INTEGER NOT NULL,
    content_id TEXT NOT NULL,
    manifest BLOB NOT NULL,
    PRIMARY KEY (path, params)
) WITHOUT ROWID
"""


@dataclass(frozen=True, slots=True)
class Known:
    """What the file hashed to: its content id and packed manifest (its chunks)."""

    content_id: str
    manifest: bytes


def default_path() -> Path | None:
    """Where the cache lives, or None when `TUSK_STAT_CACHE` turns it off."""
    if os.environ.get("TUSK_STAT_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    root = os.environ.get("TUSK_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = os.path.join(xdg, "tusk") if xdg else os.path.join(os.path.expanduser("~"), ".cache", "tusk")
    return Path(root) / FILE_NAME


class StatCache:
    """One open cache file; safe to share between threads. Writes are buffered until `flush`/`close`."""

    def __init__(self, path: Path, params: str) -> None:
        self.path = path
        self.params = params
        self._lock = threading.Lock()
        self._pending: list[tuple[object, ...]] = []
        self._db: sqlite3.Connection | None = _open(path)

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def lookup(self, items: Sequence[tuple[str, Stamp]], now_ns: int | None = None) -> dict[str, Known]:
        """For each (absolute path, current stamp), what it hashed to, if a trusted row says so."""
        if self._db is None or not items:
            return {}
        now_ns = time.time_ns() if now_ns is None else now_ns
        stamps = dict(items)
        out: dict[str, Known] = {}
        paths = list(stamps)
        with self._lock:
            try:
                for i in range(0, len(paths), LOOKUP_STEP):
                    part = paths[i : i + LOOKUP_STEP]
                    rows = self._db.execute(
                        "SELECT path, size, mtime_ns, ino, dev, ctime_ns, hashed_ns, content_id, manifest"
                        f" FROM files WHERE params = ? AND path IN ({','.join('?' * len(part))})",
                        (self.params, *part),
                    ).fetchall()
                    for path, size, mtime, ino, dev, ctime, hashed, cid, manifest in rows:
                        if Stamp(size, mtime, ino, dev, ctime) == stamps[path] and _settled(
                            mtime, hashed, now_ns
                        ):
                            out[path] = Known(cid, bytes(manifest))
            except sqlite3.Error:
                self._disable()
                return {}
        return out

    def record(self, path: str, stamp: Stamp, known: Known, hashed_ns: int) -> None:
        """Remember that the file at `path`, with `stamp`, read at `hashed_ns` (taken before the read),
        hashed to `known`."""
        if self._db is None:
            return
        row = (path, self.params, stamp.size, stamp.mtime_ns, stamp.ino, stamp.dev, stamp.ctime_ns,
               hashed_ns, known.content_id, known.manifest)  # fmt: skip
        with self._lock:
            self._pending.append(row)
            if len(self._pending) >= FLUSH_ROWS:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        with self._lock:
            self._flush_locked()
            if self._db is not None:
                self._db.close()
                self._db = None

    def _flush_locked(self) -> None:
        rows, self._pending = self._pending, []
        if self._db is None or not rows:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        except sqlite3.Error:
            self._disable()

    def _disable(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None
        self._pending = []


def _settled(mtime_ns: int, hashed_ns: int, now_ns: int) -> bool:
    """Whether a row can be trusted: the file's mtime was well before it was read (not "racily clean"),
    and that read was not in the future (a clock set back makes every row suspect)."""
    return mtime_ns + RACY_NS <= hashed_ns <= now_ns


def _open(path: Path) -> sqlite3.Connection | None:
    """The cache's database, made when missing; a damaged file is removed and made anew. None (no
    cache for this run) when even that fails: a read-only home, a full disk, a lock held too long."""
    for attempt in range(2):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                                 isolation_level="DEFERRED")  # fmt: skip
        except (OSError, sqlite3.Error):
            return None
        try:
            _prepare(db)
            return db
        except sqlite3.DatabaseError as exc:
            db.close()
            if attempt or (isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)):
                return None
            _remove(path)  # not a database (or damaged): it holds nothing that cannot be recomputed
    return None


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        with db:
            db.execute("DROP TABLE IF EXISTS files")
            db.execute(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.execute("SELECT 1 FROM files LIMIT 1").fetchall()
    _prune(db, time.time_ns())


def _prune(db: sqlite3.Connection, now_ns: int) -> None:
    """Drop the rows not hashed again for `STALE_NS` (mostly files deleted or moved since), at most once
    per `PRUNE_EVERY_NS`: the cache would otherwise only grow. A file still there is just hashed again."""
    row = db.execute("SELECT value FROM meta WHERE key = 'pruned_ns'").fetchone()
    if row is not None and 0 <= now_ns - row[0] < PRUNE_EVERY_NS:
        return
    with db:
        db.execute("DELETE FROM files WHERE hashed_ns < ?", (now_ns - STALE_NS,))
        db.execute("INSERT INTO meta (key, value) VALUES ('pruned_ns', ?)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (now_ns,))  # fmt: skip


def _remove(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):
            name.unlink()


def params_key(parts: Iterable[object]) -> str:
    """The chunking parameters as one string: rows made with other parameters are never used."""
    return "/".join(str(p) for p in parts)
