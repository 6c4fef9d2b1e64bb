"""Big and many-file transfers: streaming, batching, one commit per upload, cleanup, parallel downloads."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_server import FakeTusk

import tusk
from tusk_common import errors

MiB = 1 << 20


@pytest.fixture
def repo(client: tusk.Client) -> str:
    client.create_repo("data")
    return "data"


def generated(total: int, chunk: int = MiB) -> Iterator[bytes]:
    """Deterministic bytes, made on the fly: the test never holds them all either."""
    block = bytes(range(256)) * (chunk // 256)
    for _ in range(total // chunk):
        yield block


def make_tree(root: Path, files: int, depth: int = 3) -> dict[str, bytes]:
    made = {}
    for i in range(files):
        rel = "/".join(f"d{(i >> (2 * k)) % 4}" for k in range(depth)) + f"/f {i}.txt"
        data = f"file {i}\n".encode() * (i % 7 + 1)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        made["/" + rel] = data
    return made


# ------------------------------------------------------------------ streaming


def test_a_50_mib_generator_is_streamed_chunked(client: tusk.Client, repo: str, fake: FakeTusk) -> None:
    pulled = []

    def source() -> Iterator[bytes]:
        for block in generated(50 * MiB):
            pulled.append(len(block))
            yield block

    result = client.put_file(repo, "master", "/big.bin", source())
    record = fake.requests[-1]
    assert record.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in record.headers
    assert record.body_bytes == 50 * MiB == sum(pulled)
    assert result.file is not None and result.file.size == 50 * MiB
    expected = hashlib.sha256()
    for block in generated(50 * MiB):
        expected.update(block)
    assert result.file.content is not None and result.file.content.id == expected.hexdigest()


def test_a_50_mib_file_is_uploaded_and_downloaded_without_loading_it(
    client: tusk.Client, repo: str, fake: FakeTusk, tmp_path: Path
) -> None:
    local = tmp_path / "big.bin"
    with local.open("wb") as fh:
        for block in generated(50 * MiB):
            fh.write(block)
    tracemalloc.start()
    try:
        client.put_file(repo, "master", "/big.bin", local)
        _, peak_up = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        out = tmp_path / "out.bin"
        client.get_file(repo, "master", "/big.bin", out)
        _, peak_down = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    put = [r for r in fake.requests if r.method == "PUT"][-1]
    assert put.headers["Content-Length"] == str(50 * MiB)
    assert peak_up < 12 * MiB and peak_down < 12 * MiB, (peak_up, peak_down)
    assert out.stat().st_size == 50 * MiB
    assert _sha(out) == _sha(local)


def _random_file(path: Path, size: int) -> None:
    rng = random.Random(size)
    with path.open("wb") as fh:
        for _ in range(size // MiB):
            fh.write(rng.randbytes(MiB))
        fh.write(rng.randbytes(size % MiB))


def test_a_big_download_to_a_path_is_parallel_ranges_of_one_pinned_commit(
    client: tusk.Client, repo: str, fake: FakeTusk, tmp_path: Path
) -> None:
    local = tmp_path / "big.bin"
    _random_file(local, 40 * MiB + 12345)
    commit = client.put_file(repo, "master", "/big.bin", local).commit
    client.put_file(repo, "master", "/other", b"moves the branch on")
    before = len(fake.requests)
    out = tmp_path / "out.bin"
    seen: list[int] = []
    assert client.get_file(repo, commit.id, "/big.bin", out, parallel=3, progress=seen.append) == local.stat().st_size
    assert _sha(out) == _sha(local) and sum(seen) == local.stat().st_size
    gets = [r for r in fake.requests[before:] if r.method == "GET" and "/files/" in r.raw_path]
    assert len(gets) > 3 and all(r.headers["Range"].startswith("bytes=") for r in gets)
    assert all(f"/refs/{commit.id}/" in r.raw_path for r in gets)  # pinned to the commit the stat found
    ranged = client.get_file(repo, "master", "/big.bin", tmp_path / "part.bin", offset=5 * MiB + 1,
                             length=20 * MiB)
    assert ranged == 20 * MiB
    with local.open("rb") as fh:
        fh.seek(5 * MiB + 1)
        assert (tmp_path / "part.bin").read_bytes() == fh.read(20 * MiB)


def test_a_big_download_falls_back_to_one_request_when_ranges_are_ignored(
    client: tusk.Client, repo: str, fake: FakeTusk, tmp_path: Path
) -> None:
    local = tmp_path / "big.bin"
    _random_file(local, 20 * MiB)
    client.put_file(repo, "master", "/big.bin", local)
    fake.ignore_range = True
    out = tmp_path / "dl" / "out.bin"
    assert client.get_file(repo, "master", "/big.bin", out) == 20 * MiB
    assert _sha(out) == _sha(local)
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.bin"]


def test_a_failed_ranged_download_leaves_no_partial_file(
    client: tusk.Client, repo: str, fake: FakeTusk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "big.bin"
    _random_file(local, 20 * MiB)
    client.put_file(repo, "master", "/big.bin", local)
    served = fake.get_file
    calls = []

    async def second_range_fails(request: Any, commit: Any, path: str) -> Any:
        calls.append(request.headers.get("Range"))
        if len(calls) == 2:
            raise errors.NotFound("gone")
        return await served(request, commit, path)

    monkeypatch.setattr(fake, "get_file", second_range_fails)
    with pytest.raises(errors.NotFound):
        client.get_file(repo, "master", "/big.bin", tmp_path / "dl" / "out.bin")
    assert list((tmp_path / "dl").iterdir()) == []


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(MiB):
            h.update(block)
    return h.hexdigest()


# -------------------------------------------------------------------- put_dir


def test_put_dir_uploads_a_nested_tree_in_one_commit(
    client: tusk.Client, repo: str, fake: FakeTusk, tmp_path: Path
) -> None:
    made = make_tree(tmp_path / "src", 40)
    (tmp_path / "src" / "big.bin").write_bytes(b"B" * 300)
    client.batch_files, client.big_file_bytes = 7, 200
    before = client.put_file(repo, "master", "/old.txt", b"old").commit
    seen: list[int] = []
    summary = client.put_dir(repo, "master", tmp_path / "src", "/raw", parallel=4, progress=seen.append,
                             message="import")
    assert summary.files == 41 and summary.requests == 7  # 6 batches of <= 7 files + the big file alone
    assert summary.bytes == sum(map(len, made.values())) + 300 == sum(seen)
    commits = list(client.list_commits(repo, "master"))
    assert [c.id for c in commits] == [summary.commit.id, before.id]  # type: ignore[union-attr]
    assert commits[0].state == "finished" and commits[0].description == "import"
    listed = {f.path for f in client.list_files(repo, "master", "/raw", recursive=True)}
    assert listed == {"/raw" + p for p in made} | {"/raw/big.bin"}
    for path, data in list(made.items())[:5]:
        assert client.read_file(repo, "master", "/raw" + path) == data


def test_a_failed_batch_deletes_the_started_commit(
    client: tusk.Client, repo: str, fake: FakeTusk, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 30)
    base = client.put_file(repo, "master", "/keep.txt", b"k").commit
    client.batch_files = 5
    fake.fail_batch = 3
    with pytest.raises(errors.Internal, match="injected"):
        client.put_dir(repo, "master", tmp_path / "src", parallel=2)
    assert len(fake.deleted_commits) == 1
    assert client.inspect_branch(repo, "master").head == base.id
    assert [f.path for f in client.list_files(repo, "master", recursive=True)] == ["/keep.txt"]
    assert [c.id for c in client.list_commits(repo)] == [base.id]


def test_an_interrupted_upload_deletes_the_started_commit(
    client: tusk.Client, repo: str, fake: FakeTusk
) -> None:
    client.batch_files = 2
    calls = []

    def progress(n: int) -> None:
        calls.append(n)
        if len(calls) == 5:
            raise KeyboardInterrupt

    files = [(f"/f{i}", b"x" * 10) for i in range(20)]
    with pytest.raises(KeyboardInterrupt):
        client.put_files(repo, "master", files, parallel=1, progress=progress)
    assert len(fake.deleted_commits) == 1
    assert client.inspect_branch(repo, "master").head is None


def test_one_request_needs_no_extra_commit(client: tusk.Client, repo: str, fake: FakeTusk, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", 10)
    summary = client.put_dir(repo, "master", tmp_path / "src")
    assert summary.requests == 1 and summary.commit is not None and summary.commit.state == "finished"
    assert not any(r.raw_path.endswith("/commits") for r in fake.requests)


def test_put_dir_into_an_open_commit_leaves_it_open(client: tusk.Client, repo: str, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", 12)
    client.batch_files = 4
    open_commit = client.start_commit(repo, "master")
    summary = client.put_dir(repo, "master", tmp_path / "src", "/x")
    assert summary.commit is not None and summary.commit.id == open_commit.id
    assert client.inspect_commit(repo, open_commit.id).state == "open"
    assert client.finish_commit(repo, open_commit.id).file_count == 12


def test_put_files_mixes_bytes_and_paths_and_appends(client: tusk.Client, repo: str, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"from disk\n")
    client.put_files(repo, "master", [("/a.txt", tmp_path / "a.txt"), ("/b.txt", b"in memory")])
    client.put_files(repo, "master", [("/a.txt", b"more\n")], append=True)
    assert client.read_file(repo, "master", "/a.txt") == b"from disk\nmore\n"
    assert client.put_files(repo, "master", []).commit is None


def test_put_dir_of_an_empty_directory_sends_nothing(client: tusk.Client, repo: str, tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert client.put_dir(repo, "master", tmp_path / "empty").files == 0


# -------------------------------------------------------------------- get_dir


def test_get_dir_downloads_everything_in_parallel_from_one_commit(
    client: tusk.Client, repo: str, tmp_path: Path
) -> None:
    made = make_tree(tmp_path / "src", 25)
    client.put_dir(repo, "master", tmp_path / "src", "/tree")
    pinned = client.inspect_commit(repo, "master").id
    seen: list[int] = []
    summary = client.get_dir(repo, "master", "/tree", tmp_path / "out", parallel=4, progress=seen.append)
    assert summary.commit == pinned and summary.files == 25
    assert summary.bytes == sum(seen) == sum(map(len, made.values()))
    for rel, data in made.items():
        assert (tmp_path / "out" / rel.lstrip("/")).read_bytes() == data
    assert not list((tmp_path / "out").rglob("*.part"))


def test_get_dir_of_a_file_writes_it_under_its_name(client: tusk.Client, repo: str, tmp_path: Path) -> None:
    client.put_file(repo, "master", "/d/one.txt", b"1")
    client.get_dir(repo, "master", "/d/one.txt", tmp_path / "out")
    assert (tmp_path / "out" / "one.txt").read_bytes() == b"1"


def test_a_failed_download_stops_the_rest_and_raises(
    client: tusk.Client, repo: str, fake: FakeTusk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "src", 20)
    client.put_dir(repo, "master", tmp_path / "src")
    real = client.get_file
    lock = threading.Lock()
    count = [0]

    def flaky(*args: Any, **kwargs: Any) -> int:
        with lock:
            count[0] += 1
            if count[0] == 3:
                raise errors.Unavailable("network went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "get_file", flaky)
    with pytest.raises(errors.Unavailable, match="went away"):
        client.get_dir(repo, "master", "/", tmp_path / "out", parallel=2)
    assert count[0] < 20 + 1
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".part")]


def test_parallel_uploads_really_overlap(client: tusk.Client, repo: str) -> None:
    client.batch_files = 1
    active, peak = [0], [0]
    lock = threading.Lock()
    real = client._send

    def tracked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            threading.Event().wait(0.05)
            return real(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    client._send = tracked  # type: ignore[method-assign]
    client.put_files(repo, "master", [(f"/f{i}", b"x") for i in range(8)], parallel=4)
    assert peak[0] >= 2
    assert len(list(client.list_files(repo, "master"))) == 8


def test_huge_iterables_are_never_materialized(client: tusk.Client, repo: str) -> None:
    client.batch_files = 10
    produced = [0]

    def files() -> Iterator[tuple[str, bytes]]:
        for i in range(200):
            produced[0] += 1
            yield f"/f{i}", os.urandom(4)

    client.put_files(repo, "master", files(), parallel=2)
    assert produced[0] == 200
    assert client.inspect_commit(repo, "master").file_count == 200
