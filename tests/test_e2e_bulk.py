"""Bulk transfers end to end, on the real services: `put file -r` of a tree with big and small files
(packs and the chunk protocol), a second `put file -r` that sends only what changed, and big downloads
as parallel ranged requests."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

import pytest

import tusk.chunked
import tusk.packs
from tusk.stack.testing import E2EStack

MiB = 1 << 20


def _tree(root: Path) -> None:
    rng = random.Random(3)
    (root / "small" / "d0").mkdir(parents=True)
    (root / "small" / "d1").mkdir(parents=True)
    for i in range(600):
        (root / "small" / f"d{i % 2}" / f"f{i:04d}.bin").write_bytes(rng.randbytes(rng.randint(0, 3000)))
    (root / "mid.bin").write_bytes(rng.randbytes(3 * MiB))  # above the small-file size, below "big"
    with (root / "big.bin").open("wb") as fh:
        for _ in range(24):
            fh.write(rng.randbytes(MiB))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_put_r_twice_sends_only_what_changed_and_reads_back_byte_for_byte(
    stack: E2EStack, tmp_path: Path
) -> None:
    t = stack.tusk
    tree = tmp_path / "tree"
    _tree(tree)
    t("create", "repo", "bulk")
    t("put", "file", "-r", "bulk@master:/t", "-f", str(tree))
    files = [f for f in t("list", "file", "-r", "bulk@master:/t", "--json").json()]
    assert len(files) == 602
    big = next(f for f in files if f["path"] == "/t/big.bin")
    streamed = stack.client.put_file("bulk", "master", "/streamed.bin", tree / "big.bin")
    assert streamed.file is not None and streamed.file.content is not None
    assert big["content"]["id"] == streamed.file.content.id  # same bytes, same id, whichever path

    # The edit: 100 bytes of the big file, one small file changed, two new ones.
    with (tree / "big.bin").open("r+b") as fh:
        fh.seek(10 * MiB)
        fh.write(os.urandom(100))
    (tree / "small" / "d0" / "f0000.bin").write_bytes(b"changed")
    (tree / "new").mkdir()
    (tree / "new" / "a.txt").write_text("a")
    (tree / "new" / "b.txt").write_text("b")
    summary = stack.client.put_files(
        "bulk", "master",
        [(f"/t/{p.relative_to(tree).as_posix()}", p) for p in sorted(tree.rglob("*")) if p.is_file()],
    )
    assert summary.files == 604 and summary.unchanged == 600
    changes = {(d["change"], d["path"]) for d in t("diff", "file", "bulk@master", "--json").json()}
    assert changes == {("modified", "/t/big.bin"), ("modified", "/t/small/d0/f0000.bin"),
                       ("added", "/t/new/a.txt"), ("added", "/t/new/b.txt")}

    out = tmp_path / "out"
    t("get", "file", "-r", "bulk@master:/t", "-o", str(out))
    for path in sorted(tree.rglob("*")):
        if path.is_file():
            assert _sha(out / path.relative_to(tree)) == _sha(path), path
    got = tmp_path / "big.out"
    t("get", "file", "bulk@master:/t/big.bin", "-o", str(got), "-p", "3")
    assert _sha(got) == _sha(tree / "big.bin")


def test_put_r_of_an_unchanged_tree_sends_no_file(stack: E2EStack, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _tree(tree)
    client = stack.client
    client.create_repo("same")
    first = client.put_dir("same", "master", tree, "/")
    again = client.put_dir("same", "master", tree, "/")
    assert (first.unchanged, again.unchanged) == (0, 602)
    assert again.requests == 0 and again.commit is not None and again.commit.state == "finished"
    assert list(client.diff_files("same", "master")) == []


def _age(tree: Path, seconds: float) -> None:
    """Every file's mtime moved `seconds` back: settled, as far as the stat cache's racy rule goes."""
    when = time.time_ns() - int(seconds * 1e9)
    for path in tree.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(when, when))


def test_put_r_reads_only_files_changed_since_the_stat_cache_saw_them(
    stack: E2EStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "tree"
    _tree(tree)
    _age(tree, 60)
    client = stack.client
    client.create_repo("cached")
    first = client.put_dir("cached", "master", tree, "/")
    assert first.unchanged == 0
    assert (tmp_path / "xdg-cache" / "tusk" / "stat-cache.sqlite").is_file()

    read_small: list[str] = []
    read_big: list[str] = []
    small_read, big_windows = tusk.packs._read, tusk.chunked._windows
    monkeypatch.setattr(tusk.packs, "_read", lambda path, n: read_small.append(path) or small_read(path, n))
    monkeypatch.setattr(tusk.chunked, "_windows",
                        lambda path, *a: read_big.append(str(path)) or big_windows(path, *a))  # fmt: skip
    again = client.put_dir("cached", "master", tree, "/")
    assert (again.unchanged, again.requests, read_small, read_big) == (602, 0, [], [])

    # The classic trap: same size, mtime forced back to what it was; ctime moved, so it is read again.
    edited = tree / "small" / "d0" / "f0002.bin"
    st = edited.stat()
    edited.write_bytes(bytes(b ^ 0xFF for b in edited.read_bytes()))
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (edited.stat().st_size, edited.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    (tree / "big.bin").touch()  # a new mtime, the same bytes: read again, nothing sent
    third = client.put_dir("cached", "master", tree, "/")
    assert third.unchanged == 601 and read_small == [str(edited)] and read_big == [str(tree / "big.bin")]
    changes = {(d.change, d.path) for d in client.diff_files("cached", "master")}
    assert changes == {("modified", "/small/d0/f0002.bin")}
    assert client.read_file("cached", "master", "/small/d0/f0002.bin") == edited.read_bytes()


def test_put_r_with_the_stat_cache_off_still_skips_by_content(
    stack: E2EStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUSK_STAT_CACHE", "0")
    tree = tmp_path / "tree"
    _tree(tree)
    client = stack.client
    client.create_repo("nocache")
    client.put_dir("nocache", "master", tree, "/")
    again = client.put_dir("nocache", "master", tree, "/")
    assert again.unchanged == 602
    assert not (tmp_path / "xdg-cache" / "tusk").exists()
