"""Planning which files share a multipart request."""

from __future__ import annotations

from pathlib import Path

import pytest

from tusk.batches import Batch, LocalEntry, Single, entries_from, plan, walk_dir
from tusk_common.errors import Invalid


def entry(name: str, size: int) -> LocalEntry:
    return LocalEntry(f"/{name}", b"", size)


def test_small_files_are_grouped_up_to_the_file_limit() -> None:
    jobs = list(plan((entry(str(i), 1) for i in range(25)), max_files=10))
    assert [len(j.entries) for j in jobs if isinstance(j, Batch)] == [10, 10, 5]


def test_batches_stay_under_the_byte_limit() -> None:
    jobs = list(plan([entry("a", 60), entry("b", 30), entry("c", 50)], max_bytes=100, big_file=1000))
    assert [[e.dest for e in j.entries] for j in jobs if isinstance(j, Batch)] == [["/a", "/b"], ["/c"]]


def test_big_files_go_alone_and_small_ones_keep_batching() -> None:
    jobs = list(plan([entry("a", 1), entry("big", 500), entry("b", 1)], big_file=100))
    assert isinstance(jobs[0], Single) and jobs[0].entry.dest == "/big"
    assert isinstance(jobs[1], Batch) and [e.dest for e in jobs[1].entries] == ["/a", "/b"]


def test_planning_is_lazy() -> None:
    def endless():
        i = 0
        while True:
            yield entry(str(i), 1)
            i += 1

    first = next(iter(plan(endless(), max_files=3)))
    assert isinstance(first, Batch) and len(first.entries) == 3


def test_walk_dir_maps_nested_files_below_dest_in_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "a.txt").write_bytes(b"1")
    (tmp_path / "b" / "c" / "d e.txt").write_bytes(b"22")
    (tmp_path / "link").symlink_to(tmp_path / "missing")  # dangling: skipped
    got = [(e.dest, e.size) for e in walk_dir(tmp_path, "/raw/")]
    assert got == [("/raw/a.txt", 1), ("/raw/b/c/d e.txt", 2)]


def test_walk_dir_lists_a_directorys_files_before_its_subdirectories_and_follows_file_links_only(
    tmp_path: Path,
) -> None:
    (tmp_path / "a" / "x").mkdir(parents=True)
    (tmp_path / "a" / "x" / "deep.bin").write_bytes(b"123")
    (tmp_path / "a" / "z.bin").write_bytes(b"1")
    (tmp_path / "b.bin").write_bytes(b"12")
    (tmp_path / "file-link").symlink_to(tmp_path / "b.bin")  # a link to a file: uploaded as that file
    (tmp_path / "dir-link").symlink_to(tmp_path / "a")  # a link to a directory: not walked into
    got = [(e.dest, e.size, Path(e.source).name) for e in walk_dir(tmp_path)]  # type: ignore[arg-type]
    assert got == [
        ("/b.bin", 2, "b.bin"), ("/file-link", 2, "file-link"),
        ("/a/z.bin", 1, "z.bin"), ("/a/x/deep.bin", 3, "deep.bin"),
    ]


def test_entries_from_checks_destinations_and_refuses_directories(tmp_path: Path) -> None:
    with pytest.raises(Invalid):
        list(entries_from([("/", b"x")]))
    with pytest.raises(Invalid, match="directory"):
        list(entries_from([("/d", tmp_path)]))
    with pytest.raises(FileNotFoundError):
        list(entries_from([("/d", tmp_path / "nope")]))
