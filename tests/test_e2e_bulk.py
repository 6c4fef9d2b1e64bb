"""Bulk transfers end to end, on the real services: `put file -r` of a tree with big and small files
(packs and the chunk protocol), a second `put file -r` that sends only what changed, and big downloads
as parallel ranged requests."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

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
