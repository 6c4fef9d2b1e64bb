"""The local stat cache: trusted only for files unchanged since they were hashed, and never a source of
failure (a damaged, deleted or unwritable cache is a cache miss)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tusk.batches import Stamp
from tusk.statcache import PRUNE_EVERY_NS, RACY_NS, STALE_NS, Known, StatCache, _prune, default_path

PARAMS = "fastcdc-2020/blake3/131072/524288/2097152"
OLD = 10 * RACY_NS  # hashed this long after the file's mtime: settled


def _file(path: Path, data: bytes, mtime_ns: int | None = None) -> Stamp:
    path.write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return Stamp.of(path.stat())


def _known(tag: str) -> Known:
    return Known(f"id-{tag}", tag.encode() * 36)


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "stat-cache.sqlite"


def _reopened(cache_file: Path, params: str = PARAMS) -> StatCache:
    cache = StatCache(cache_file, params)
    assert cache.enabled
    return cache


def test_a_file_unchanged_since_it_was_hashed_is_a_hit_in_a_later_run(
    tmp_path: Path, cache_file: Path
) -> None:
    stamp = _file(tmp_path / "a.bin", b"a" * 100, mtime_ns=time.time_ns() - OLD)
    cache = _reopened(cache_file)
    cache.record("/x/a.bin", stamp, _known("a"), time.time_ns())
    cache.close()
    again = _reopened(cache_file)
    assert again.lookup([("/x/a.bin", stamp)]) == {"/x/a.bin": _known("a")}
    assert again.lookup([("/x/other.bin", stamp)]) == {}


@pytest.mark.parametrize("field", ["size", "mtime_ns", "ino", "dev", "ctime_ns"])
def test_any_change_of_the_stamp_is_a_miss(cache_file: Path, field: str) -> None:
    stamp = Stamp(100, 1_000 * RACY_NS, 42, 7, 1_000 * RACY_NS)
    cache = _reopened(cache_file)
    cache.record("/x/a.bin", stamp, _known("a"), stamp.mtime_ns + OLD)
    cache.flush()
    changed = Stamp(**{**{f: getattr(stamp, f) for f in Stamp.__slots__}, field: getattr(stamp, field) + 1})
    assert cache.lookup([("/x/a.bin", changed)], now_ns=stamp.mtime_ns + 2 * OLD) == {}
    assert cache.lookup([("/x/a.bin", stamp)], now_ns=stamp.mtime_ns + 2 * OLD) == {"/x/a.bin": _known("a")}


def test_a_rewrite_of_the_same_size_with_the_old_mtime_forced_back_is_a_miss(
    tmp_path: Path, cache_file: Path
) -> None:
    """The classic case (`touch -d` after an edit): size and mtime equal, but ctime (and maybe the inode)
    moved, so the file is hashed again."""
    path = tmp_path / "a.bin"
    before = _file(path, b"a" * 100, mtime_ns=time.time_ns() - OLD)
    cache = _reopened(cache_file)
    cache.record(str(path), before, _known("a"), time.time_ns())
    cache.flush()
    time.sleep(0.02)  # a ctime tick
    after = _file(path, b"b" * 100, mtime_ns=before.mtime_ns)
    assert (after.size, after.mtime_ns) == (before.size, before.mtime_ns)
    assert cache.lookup([(str(path), after)]) == {}
    replaced = tmp_path / "new.bin"  # an editor's save: another file renamed over it
    _file(replaced, b"c" * 100, mtime_ns=before.mtime_ns)
    replaced.replace(path)
    assert cache.lookup([(str(path), Stamp.of(path.stat()))]) == {}


def test_a_file_hashed_within_the_racy_window_of_its_mtime_is_hashed_again(cache_file: Path) -> None:
    stamp = Stamp(100, 1_000 * RACY_NS, 42, 7, 1_000 * RACY_NS)
    cache = _reopened(cache_file)
    cache.record("/x/racy", stamp, _known("r"), stamp.mtime_ns + RACY_NS // 2)
    cache.record("/x/settled", stamp, _known("s"), stamp.mtime_ns + RACY_NS)
    cache.flush()
    found = cache.lookup([("/x/racy", stamp), ("/x/settled", stamp)], now_ns=stamp.mtime_ns + OLD)
    assert found == {"/x/settled": _known("s")}
    # Hashed again later, the same stamp is settled and trusted from then on.
    cache.record("/x/racy", stamp, _known("r"), stamp.mtime_ns + OLD)
    cache.flush()
    assert cache.lookup([("/x/racy", stamp)], now_ns=stamp.mtime_ns + OLD) == {"/x/racy": _known("r")}


def test_a_row_hashed_in_the_future_of_the_clock_is_not_trusted(cache_file: Path) -> None:
    stamp = Stamp(100, 1_000 * RACY_NS, 42, 7, 1_000 * RACY_NS)
    cache = _reopened(cache_file)
    cache.record("/x/a", stamp, _known("a"), stamp.mtime_ns + OLD)
    cache.flush()
    assert cache.lookup([("/x/a", stamp)], now_ns=stamp.mtime_ns + OLD // 2) == {}


def test_rows_made_with_other_chunking_parameters_are_never_used(cache_file: Path) -> None:
    stamp = Stamp(100, 1_000 * RACY_NS, 42, 7, 1_000 * RACY_NS)
    cache = _reopened(cache_file)
    cache.record("/x/a", stamp, _known("a"), stamp.mtime_ns + OLD)
    cache.close()
    other = _reopened(cache_file, "fastcdc-2020/blake3/4096/16384/65536")
    assert other.lookup([("/x/a", stamp)], now_ns=stamp.mtime_ns + OLD) == {}
    other.record("/x/a", stamp, _known("b"), stamp.mtime_ns + OLD)
    other.close()
    assert _reopened(cache_file).lookup([("/x/a", stamp)], now_ns=stamp.mtime_ns + OLD) == {
        "/x/a": _known("a")
    }


def test_many_paths_are_looked_up_in_steps(cache_file: Path) -> None:
    stamp = Stamp(100, 1_000 * RACY_NS, 42, 7, 1_000 * RACY_NS)
    cache = _reopened(cache_file)
    for i in range(1200):
        cache.record(f"/x/{i}", stamp, _known(str(i)), stamp.mtime_ns + OLD)
    cache.flush()
    found = cache.lookup([(f"/x/{i}", stamp) for i in range(1300)], now_ns=stamp.mtime_ns + OLD)
    assert len(found) == 1200 and found["/x/1199"] == _known("1199")


def test_a_damaged_cache_file_is_replaced_by_an_empty_one(cache_file: Path) -> None:
    stamp = Stamp(100, 1_000 * RACY_NS, 42, 7, 1_000 * RACY_NS)
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"this is not a database" * 100)
    cache = _reopened(cache_file)
    assert cache.lookup([("/x/a", stamp)]) == {}
    cache.record("/x/a", stamp, _known("a"), stamp.mtime_ns + OLD)
    cache.close()
    assert _reopened(cache_file).lookup([("/x/a", stamp)], now_ns=stamp.mtime_ns + OLD) == {
        "/x/a": _known("a")
    }


def test_a_cache_deleted_between_runs_or_while_open_only_misses(cache_file: Path) -> None:
    stamp = Stamp(100, 1_000 * RACY_NS, 42, 7, 1_000 * RACY_NS)
    cache = _reopened(cache_file)
    cache.record("/x/a", stamp, _known("a"), stamp.mtime_ns + OLD)
    cache.close()
    for name in cache_file.parent.iterdir():
        name.unlink()
    again = _reopened(cache_file)
    assert again.lookup([("/x/a", stamp)], now_ns=stamp.mtime_ns + OLD) == {}
    for name in cache_file.parent.iterdir():  # gone under an open cache: writes still do no harm
        name.unlink()
    again.record("/x/b", stamp, _known("b"), stamp.mtime_ns + OLD)
    again.close()


def test_a_cache_that_cannot_be_created_is_off(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = StatCache(blocker / "stat-cache.sqlite", PARAMS)
    assert not cache.enabled
    assert cache.lookup([("/x/a", Stamp(1, 2, 3, 4, 5))]) == {}
    cache.record("/x/a", Stamp(1, 2, 3, 4, 5), _known("a"), 10)
    cache.close()


def test_the_cache_lives_per_user_and_can_be_turned_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("TUSK_CACHE_DIR", "XDG_CACHE_HOME", "TUSK_STAT_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".cache" / "tusk" / "stat-cache.sqlite"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "tusk" / "stat-cache.sqlite"
    monkeypatch.setenv("TUSK_CACHE_DIR", str(tmp_path / "mine"))
    assert default_path() == tmp_path / "mine" / "stat-cache.sqlite"
    monkeypatch.setenv("TUSK_STAT_CACHE", "0")
    assert default_path() is None


def test_rows_not_hashed_again_for_months_are_dropped_once_a_day(cache_file: Path, tmp_path: Path) -> None:
    import sqlite3

    old, fresh = tmp_path / "old.bin", tmp_path / "fresh.bin"
    now = time.time_ns()
    cache = _reopened(cache_file)
    cache.record(str(old), _file(old, b"gone soon", now - STALE_NS - 10 * OLD), _known("old"), now - STALE_NS - OLD)
    cache.record(str(fresh), _file(fresh, b"kept", now - 10 * OLD), _known("fresh"), now - OLD)
    cache.close()
    db = sqlite3.connect(cache_file)
    db.execute("DELETE FROM meta")  # as if the last prune was long ago
    db.commit()
    later = StatCache(cache_file, PARAMS)  # opening prunes: the old row goes, the fresh one stays
    assert later.lookup([(str(old), Stamp.of(old.stat()))]) == {}
    assert later.lookup([(str(fresh), Stamp.of(fresh.stat()))]) == {str(fresh): _known("fresh")}
    later.close()
    # Pruned at most once a day: a stale row written right after a prune waits for the next day's.
    pruned_at = db.execute("SELECT value FROM meta WHERE key = 'pruned_ns'").fetchone()[0]
    db.execute("INSERT INTO files VALUES ('x', ?, 1, 1, 1, 1, 1, 1, 'id', x'00')", (PARAMS,))
    db.commit()
    _prune(db, pruned_at + PRUNE_EVERY_NS // 2)
    assert db.execute("SELECT count(*) FROM files WHERE path = 'x'").fetchone()[0] == 1
    _prune(db, pruned_at + PRUNE_EVERY_NS)
    assert db.execute("SELECT count(*) FROM files WHERE path = 'x'").fetchone()[0] == 0
    db.close()
