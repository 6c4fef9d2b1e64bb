"""The SDK against the fake server: repos, branches, commits and single-file operations."""

from __future__ import annotations

import io
import os
import stat
import threading
from pathlib import Path

import pytest
from fake_server import FakeTusk

import tusk
from tusk_common import errors


@pytest.fixture
def repo(client: tusk.Client) -> str:
    client.create_repo("images", "raw images")
    return "images"


def test_repo_lifecycle(client: tusk.Client) -> None:
    info = client.create_repo("images", "raw images")
    assert (info.name, info.description) == ("images", "raw images")
    with pytest.raises(errors.AlreadyExists):
        client.create_repo("images")
    assert client.create_repo("images", "new", update=True).description == "new"
    assert [r.name for r in client.list_repos()] == ["images"]
    client.delete_repo("images", force=True)
    with pytest.raises(errors.NotFound, match='repo "images" not found'):
        client.inspect_repo("images")


def test_branch_lifecycle(client: tusk.Client, repo: str) -> None:
    first = client.put_file(repo, "master", "/a", b"1").commit
    client.put_file(repo, "master", "/a", b"2")
    dev = client.create_branch(repo, "dev", head="master^1")
    assert dev.head == first.id
    assert client.inspect_branch(repo, "dev").head == first.id
    assert {b.name for b in client.list_branches(repo)} == {"master", "dev"}
    client.delete_branch(repo, "dev")
    with pytest.raises(errors.NotFound):
        client.inspect_branch(repo, "dev")


def test_commit_lifecycle(client: tusk.Client, repo: str) -> None:
    c = client.start_commit(repo, "master", description="import")
    assert c.state == "open"
    put = client.put_file(repo, "master", "/x", b"x")
    assert put.commit.id == c.id and not put.atomic
    done = client.finish_commit(repo, c.id, description="import done")
    assert (done.state, done.description) == ("finished", "import done")
    assert client.wait_commit(repo, "master").id == c.id
    assert client.inspect_commit(repo, "master").file_count == 1


def test_list_commits_iterates_every_page(client: tusk.Client, repo: str, fake: FakeTusk) -> None:
    ids = [client.put_file(repo, "master", "/f", str(i).encode()).commit.id for i in range(7)]
    listed = [c.id for c in client.list_commits(repo, "master", page_size=3)]
    assert listed == ids[::-1]
    assert sum("/commits" in r.raw_path for r in fake.requests) == 3
    assert len(list(client.list_commits(repo, limit=2))) == 2


def test_wait_commit_returns_when_another_thread_finishes_it(client: tusk.Client, repo: str) -> None:
    c = client.start_commit(repo, "master")
    timer = threading.Timer(0.3, lambda: client.finish_commit(repo, c.id))
    timer.start()
    try:
        assert client.wait_commit(repo, c.id, timeout=10).state == "finished"
    finally:
        timer.join()


def test_squash_and_delete_commit(client: tusk.Client, repo: str) -> None:
    a = client.put_file(repo, "master", "/a", b"a").commit
    b = client.put_file(repo, "master", "/b", b"b").commit
    c = client.put_file(repo, "master", "/c", b"c").commit
    client.squash_commit(repo, b.id)
    assert client.inspect_commit(repo, c.id).parent == a.id
    client.delete_commit(repo, "master")
    assert client.inspect_branch(repo, "master").head == a.id


def test_commit_context_manager_finishes_on_success(client: tusk.Client, repo: str) -> None:
    with client.commit(repo, "master", description="two files") as c:
        c.put_file("/a.txt", b"a")
        c.put_files([("/b.txt", b"b"), ("/c.txt", b"c")])
        c.copy_file(repo, c.id, "/a.txt", "/copy.txt")
        c.delete_file("/c.txt")
        assert client.inspect_commit(repo, c.id).state == "open"
    assert c.info.state == "finished" and c.info.description == "two files"
    assert sorted(f.path for f in client.list_files(repo, "master")) == ["/a.txt", "/b.txt", "/copy.txt"]


def test_commit_context_manager_deletes_the_commit_on_error(
    client: tusk.Client, repo: str, fake: FakeTusk
) -> None:
    base = client.put_file(repo, "master", "/keep", b"k").commit
    with pytest.raises(RuntimeError), client.commit(repo, "master") as c:
        c.put_file("/half", b"h")
        raise RuntimeError("boom")
    assert c.id in fake.deleted_commits
    assert client.inspect_branch(repo, "master").head == base.id
    assert [f.path for f in client.list_files(repo, "master")] == ["/keep"]


# ---------------------------------------------------------------- sources


def test_put_file_accepts_every_kind_of_source(client: tusk.Client, repo: str, tmp_path: Path) -> None:
    local = tmp_path / "local.bin"
    local.write_bytes(b"from a path")
    client.put_file(repo, "master", "/bytes", b"from bytes")
    client.put_file(repo, "master", "/path", local)
    client.put_file(repo, "master", "/str", str(local))
    client.put_file(repo, "master", "/fileobj", io.BytesIO(b"from a file object"))
    client.put_file(repo, "master", "/iter", iter([b"from ", b"an ", b"iterator"]))
    read, write = os.pipe()
    os.write(write, b"from a pipe")
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        client.put_file(repo, "master", "/pipe", pipe)
    got = {p: client.read_file(repo, "master", p) for p in ["/bytes", "/path", "/str", "/fileobj", "/iter", "/pipe"]}
    assert got == {"/bytes": b"from bytes", "/path": b"from a path", "/str": b"from a path",
                   "/fileobj": b"from a file object", "/iter": b"from an iterator", "/pipe": b"from a pipe"}


def test_put_file_sends_length_md5_and_message(client: tusk.Client, repo: str, fake: FakeTusk) -> None:
    result = client.put_file(repo, "master", "/a", b"hello", message="first file")
    headers = fake.requests[-1].headers
    assert headers["Content-Length"] == "5" and "Content-MD5" in headers
    assert result.atomic and result.commit.description == "first file"
    assert result.file is not None and result.file.size == 5


def test_put_file_appends(client: tusk.Client, repo: str) -> None:
    client.put_file(repo, "master", "/log", b"one\n")
    client.put_file(repo, "master", "/log", b"two\n", append=True)
    assert client.read_file(repo, "master", "/log") == b"one\ntwo\n"


def test_put_file_reports_progress(client: tusk.Client, repo: str) -> None:
    seen: list[int] = []
    client.put_file(repo, "master", "/a", b"x" * 3_000_000, progress=seen.append)
    assert sum(seen) == 3_000_000 and len(seen) == 3


def test_a_missing_local_file_fails_before_any_request(client: tusk.Client, repo: str, fake: FakeTusk) -> None:
    before = len(fake.requests)
    with pytest.raises(FileNotFoundError):
        client.put_file(repo, "master", "/a", Path("/nonexistent/file"))
    assert len(fake.requests) == before


# ------------------------------------------------------------------- reads


def test_get_file_ranges(client: tusk.Client, repo: str, fake: FakeTusk) -> None:
    client.put_file(repo, "master", "/a", b"0123456789")
    assert client.read_file(repo, "master", "/a", offset=3) == b"3456789"
    assert client.read_file(repo, "master", "/a", offset=2, length=4) == b"2345"
    assert fake.requests[-1].headers["Range"] == "bytes=2-5"
    assert client.read_file(repo, "master", "/a", length=0) == b""


def test_get_file_cuts_the_range_itself_when_the_server_ignores_it(
    client: tusk.Client, repo: str, fake: FakeTusk
) -> None:
    client.put_file(repo, "master", "/a", b"0123456789")
    fake.ignore_range = True
    assert client.read_file(repo, "master", "/a", offset=2, length=4) == b"2345"
    assert client.read_file(repo, "master", "/a", offset=8) == b"89"


def test_get_file_to_a_path_is_atomic(client: tusk.Client, repo: str, tmp_path: Path) -> None:
    client.put_file(repo, "master", "/a", b"content")
    tmp_path = tmp_path / "downloads"
    out = tmp_path / "sub" / "a.out"
    assert client.get_file(repo, "master", "/a", out) == 7
    assert out.read_bytes() == b"content"
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)
    with pytest.raises(errors.NotFound):
        client.get_file(repo, "master", "/missing", tmp_path / "missing")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.out", "sub"]


def test_get_file_into_a_pipe_writes_into_it_instead_of_replacing_it(
    client: tusk.Client, repo: str, tmp_path: Path
) -> None:
    client.put_file(repo, "master", "/a", b"through a pipe")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert client.get_file(repo, "master", "/a", fifo) == 14
    reader.join(10)
    assert got == [b"through a pipe"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the pipe, not a file renamed over it


def test_reading_a_directory_is_invalid(client: tusk.Client, repo: str) -> None:
    client.put_file(repo, "master", "/d/a", b"a")
    with pytest.raises(errors.Invalid, match="directory"):
        client.read_file(repo, "master", "/d")


def test_list_glob_diff_and_inspect(client: tusk.Client, repo: str) -> None:
    client.put_files(repo, "master", [("/a.csv", b"1"), ("/d/b.csv", b"22"), ("/d/c.png", b"333")])
    client.put_files(repo, "master", [("/a.csv", b"changed"), ("/new.csv", b"n")])
    client.delete_file(repo, "master", "/d/c.png")
    assert [(f.path, f.type) for f in client.list_files(repo, "master")] == [
        ("/a.csv", "file"), ("/d", "dir"), ("/new.csv", "file")]
    assert [f.path for f in client.list_files(repo, "master", "/", recursive=True, page_size=1)] == [
        "/a.csv", "/d/b.csv", "/new.csv"]
    assert [f.path for f in client.glob_files(repo, "master", "/**.csv")] == ["/a.csv", "/d/b.csv", "/new.csv"]
    assert [f.path for f in client.glob_files(repo, "master", "*")] == ["/a.csv", "/d", "/new.csv"]
    diff = {d.path: d.change for d in client.diff_files(repo, "master", base="master^2")}
    assert diff == {"/a.csv": "modified", "/new.csv": "added", "/d/c.png": "deleted"}
    assert [d.path for d in client.diff_files(repo, "master")] == ["/d/c.png"]
    d = client.inspect_file(repo, "master", "/d")
    assert (d.type, d.size, d.file_count) == ("dir", 2, 1)


def test_copy_file_across_repos(client: tusk.Client, repo: str) -> None:
    client.put_files(repo, "master", [("/cats/1", b"1"), ("/cats/2", b"2")])
    client.create_repo("edges")
    client.copy_file(repo, "master", "/cats", "edges", "master", "/in")
    assert [f.path for f in client.list_files("edges", "master", "/in")] == ["/in/1", "/in/2"]


def test_version(client: tusk.Client) -> None:
    assert client.version() == {"version": "0.1.0-fake", "api": "v1"}
