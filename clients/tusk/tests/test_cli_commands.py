"""Every `tusk VERB NOUN` as a user types it, against the fake server (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_runner import Tusk
from fake_server import FakeTusk

import tusk


@pytest.fixture
def images(run: Tusk) -> str:
    run("create", "repo", "images", "--description", "raw camera images")
    return "images"


def as_json(run: Tusk, *args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


# ---------------------------------------------------------------------- repos


def test_repo_commands(run: Tusk) -> None:
    assert run("create", "repo", "images", "-d", "raw camera images").stdout == ""
    run("put", "file", "images@master:/a.txt", "-f", "-", input=b"x" * 2048)
    out = run("list", "repo").stdout.splitlines()
    assert out[0].split() == ["REPO", "CREATED", "SIZE", "DESCRIPTION"]
    assert out[1].split()[0] == "images" and "2KiB" in out[1] and out[1].endswith("raw camera images")
    assert "seconds ago" in out[1] or "Less than a second ago" in out[1]
    repos = as_json(run, "list", "repo")
    assert isinstance(repos, list) and repos[0]["name"] == "images" and repos[0]["size_bytes"] == 2048
    details = run("inspect", "repo", "images").stdout
    assert "Name: images" in details and "Size of HEAD on master: 2KiB" in details
    assert as_json(run, "inspect", "repo", "images")["description"] == "raw camera images"
    run("create", "repo", "images", "-u", "-d", "new words")
    assert as_json(run, "inspect", "repo", "images")["description"] == "new words"
    run("delete", "repo", "images", "--force")
    assert as_json(run, "list", "repo") == []


def test_global_json_flag_works_too(run: Tusk, images: str) -> None:
    assert json.loads(run("--json", "list", "repo").stdout)[0]["name"] == "images"


# ------------------------------------------------------------------- branches


def test_branch_commands(run: Tusk, images: str) -> None:
    run("put", "file", "images@master:/a", "-f", "-", input=b"1")
    run("put", "file", "images@master:/a", "-f", "-", input=b"2")
    first = as_json(run, "list", "commit", "images@master")[-1]["id"]
    run("create", "branch", "images@dev", "--head", "master^1")
    run("create", "branch", "images@empty")
    table = run("list", "branch", "images").stdout.splitlines()
    assert table[0].split() == ["BRANCH", "HEAD", "CREATED"]
    rows = {line.split()[0]: line.split()[1] for line in table[1:]}
    assert rows["dev"] == first and rows["empty"] == "-"
    assert as_json(run, "inspect", "branch", "images@dev")["head"] == first
    assert "Head: -" in run("inspect", "branch", "images@empty").stdout
    run("delete", "branch", "images@dev")
    assert {b["name"] for b in as_json(run, "list", "branch", "images")} == {"master", "empty"}


# -------------------------------------------------------------------- commits


def test_commit_commands(run: Tusk, images: str) -> None:
    commit_id = run("start", "commit", "images@master", "-m", "nightly").stdout.strip()
    assert len(commit_id) == 32
    run("put", "file", "images@master:/a.txt", "-f", "-", input=b"a")
    assert as_json(run, "inspect", "commit", f"images@{commit_id}")["state"] == "open"
    run("finish", "commit", "images@master")
    info = as_json(run, "inspect", "commit", "images@master")
    assert info["id"] == commit_id and info["state"] == "finished"
    details = run("inspect", "commit", f"images@{commit_id}").stdout
    assert f"Commit: images@{commit_id}" in details and "Description: nightly" in details

    waited = run("wait", "commit", "images@master").stdout.splitlines()
    assert waited[0].split() == ["REPO", "BRANCH", "COMMIT", "FINISHED", "SIZE", "ORIGIN", "DESCRIPTION"]
    assert commit_id in waited[1] and "USER" in waited[1] and waited[1].endswith("nightly")
    waited_json = as_json(run, "wait", "commit", "images@master", "--timeout", "5")
    assert waited_json["commit"]["id"] == commit_id and waited_json["jobs"] == []

    run("put", "file", "images@master:/b.txt", "-f", "-", input=b"b")
    run("put", "file", "images@master:/c.txt", "-f", "-", input=b"c")
    listed = run("list", "commit", "images@master").stdout.splitlines()
    assert len(listed) == 4 and listed[3].split()[2] == commit_id
    assert len(as_json(run, "list", "commit", "images", "-n", "2")) == 2
    middle = as_json(run, "inspect", "commit", "images@master^1")["id"]
    run("squash", "commit", f"images@{middle}")
    run("delete", "commit", "images@master")
    assert [c["id"] for c in as_json(run, "list", "commit", "images")] == [commit_id]


def test_start_commit_with_a_parent(run: Tusk, images: str) -> None:
    run("put", "file", "images@master:/a", "-f", "-", input=b"1")
    run("put", "file", "images@master:/b", "-f", "-", input=b"2")
    first = as_json(run, "inspect", "commit", "images@master^")["id"]
    new = run("start", "commit", "images@master", "--parent", first).stdout.strip()
    assert as_json(run, "inspect", "commit", f"images@{new}")["parent"] == first


def test_wait_commit_times_out_with_exit_1(run: Tusk, images: str) -> None:
    run("start", "commit", "images@master")
    result = run("wait", "commit", "images@master", "--timeout", "0.2", ok=False)
    assert result.exit_code == 1 and "did not finish within" in result.stderr


# ---------------------------------------------------------------------- files


def test_put_and_get_one_file(run: Tusk, images: str, tmp_path: Path) -> None:
    local = tmp_path / "1.png"
    local.write_bytes(b"\x89PNG fake")
    run("put", "file", "images@master:/cats/1.png", "-f", str(local))
    run("put", "file", "images@master:/cats/", "-f", str(local))  # trailing slash: keeps the name
    run("put", "file", "images@master", "-f", str(local))  # no path: at the root, under its name
    names = [f["path"] for f in as_json(run, "list", "file", "images@master", "-r")]
    assert names == ["/1.png", "/cats/1.png"]
    assert run("get", "file", "images@master:/cats/1.png").stdout_bytes == b"\x89PNG fake"
    out = tmp_path / "out.png"
    run("get", "file", "images@master:/cats/1.png", "-o", str(out))
    assert out.read_bytes() == b"\x89PNG fake"
    run("get", "file", "images@master:/1.png", "-o", str(tmp_path))  # into a directory: its name
    assert (tmp_path / "1.png").read_bytes() == b"\x89PNG fake"
    assert run("get", "file", "images@master:/cats/1.png", "--offset", "5").stdout_bytes == b"fake"


def test_put_file_from_stdin_and_append(run: Tusk, images: str) -> None:
    run("put", "file", "images@master:/log.txt", "-f", "-", input=b"one\n")
    run("put", "file", "images@master:/log.txt", "-a", "-f", "-", input=b"two\n")
    assert run("get", "file", "images@master:/log.txt").stdout_bytes == b"one\ntwo\n"


def test_put_file_message_describes_the_commit(run: Tusk, images: str) -> None:
    run("put", "file", "images@master:/a", "-f", "-", "-m", "first upload", input=b"a")
    assert as_json(run, "inspect", "commit", "images@master")["description"] == "first upload"


def test_put_r_uploads_nested_dirs_in_one_commit(run: Tusk, images: str, tmp_path: Path, fake: FakeTusk) -> None:
    src = tmp_path / "photos"
    for rel in ["a.jpg", "2024/b.jpg", "2024/06/c d.jpg", "2025/ü.jpg"]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(rel.encode())
    before = len(as_json(run, "list", "commit", "images"))
    run("put", "file", "-r", "images@master:/raw", "-f", str(src), "-p", "2")
    run("put", "file", "-r", "images@master", "-f", str(src))  # no path: the directory's own name
    paths = {f["path"] for f in as_json(run, "list", "file", "images@master", "-r")}
    assert paths == {f"/{top}/{rel}" for top in ("raw", "photos")
                     for rel in ["a.jpg", "2024/b.jpg", "2024/06/c d.jpg", "2025/ü.jpg"]}
    assert len(as_json(run, "list", "commit", "images")) == before + 2


def test_put_r_many_batches_is_still_one_commit(run: Tusk, images: str, tmp_path: Path, fake: FakeTusk,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tusk.Client, "batch_files", 3)
    src = tmp_path / "src"
    for i in range(10):
        (src / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 3}" / f"{i}.txt").write_bytes(b"x")
    run("put", "file", "-r", "images@master:/in", "-f", str(src))
    assert len(as_json(run, "list", "commit", "images")) == 1
    assert fake.batches_seen == 4


def test_put_r_failure_leaves_nothing_and_exits_1(run: Tusk, images: str, tmp_path: Path, fake: FakeTusk,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tusk.Client, "batch_files", 2)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(9):
        (src / f"{i}.txt").write_bytes(b"x")
    fake.fail_batch = 2
    result = run("put", "file", "-r", "images@master:/in", "-f", str(src), ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == "tusk: error: injected failure of this batch"
    assert len(fake.deleted_commits) == 1
    assert as_json(run, "list", "commit", "images") == []


def test_put_several_sources_into_a_directory(run: Tusk, images: str, tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_bytes(name.encode())
    run("put", "file", "images@master:/docs", "-f", str(tmp_path / "a.txt"), "-f", str(tmp_path / "b.txt"))
    assert [f["path"] for f in as_json(run, "list", "file", "images@master:/docs")] == [
        "/docs/a.txt", "/docs/b.txt"]


def test_get_r_downloads_a_directory(run: Tusk, images: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for rel in ["x/1.txt", "x/y/2.txt", "z.txt"]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(rel.encode())
    run("put", "file", "-r", "images@master:/", "-f", str(src / "x"))
    run("get", "file", "-r", "images@master:/x", "-o", str(tmp_path / "out"))
    assert (tmp_path / "out" / "1.txt").read_bytes() == b"x/1.txt"
    assert (tmp_path / "out" / "y" / "2.txt").read_bytes() == b"x/y/2.txt"
    run("get", "file", "-r", "images@master:/x/1.txt", "-o", str(tmp_path / "single.txt"))
    assert (tmp_path / "single.txt").read_bytes() == b"x/1.txt"


def test_list_glob_diff_inspect_delete_copy(run: Tusk, images: str, tmp_path: Path) -> None:
    run("put", "file", "images@master:/a.csv", "-f", "-", input=b"1,2\n")
    run("put", "file", "images@master:/d/b.csv", "-f", "-", input=b"3,4,5\n")
    table = run("list", "file", "images@master").stdout.splitlines()
    assert [line.split() for line in table] == [["NAME", "TYPE", "SIZE"], ["/a.csv", "file", "4B"],
                                                ["/d/", "dir", "6B"]]
    assert [f["path"] for f in as_json(run, "list", "file", "images@master:/d")] == ["/d/b.csv"]
    assert [f["path"] for f in as_json(run, "glob", "file", "images@master:/**.csv")] == [
        "/a.csv", "/d/b.csv"]
    assert "/d/b.csv" in run("glob", "file", "images@master:d/*").stdout

    diff = run("diff", "file", "images@master").stdout.splitlines()
    assert diff[0].split() == ["CHANGE", "NAME", "TYPE", "SIZE"] and diff[1].split()[:2] == ["added", "/d/b.csv"]
    changes = as_json(run, "diff", "file", "images@master", "--old", "images@master^1")
    assert [c["path"] for c in changes] == ["/d/b.csv"]
    positional = as_json(run, "diff", "file", "images@master:/d", "images@master^1")
    assert [c["change"] for c in positional] == ["added"]

    across = run("diff", "file", "images@master", "--old", "edges@master", ok=False)
    assert across.exit_code == 1 and "same repo" in across.stderr

    info = as_json(run, "inspect", "file", "images@master:/d/b.csv")
    assert info["size"] == 6 and info["type"] == "file"
    human = run("inspect", "file", "images@master:/d").stdout
    assert "Type: dir" in human and "Files: 1" in human

    run("create", "repo", "edges")
    run("copy", "file", "images@master:/d", "edges@master:/in/")
    run("copy", "file", "images@master:/a.csv", "edges@master:/renamed.csv")
    assert [f["path"] for f in as_json(run, "list", "file", "edges@master", "-r")] == [
        "/in/d/b.csv", "/renamed.csv"]
    run("delete", "file", "images@master:/d")
    assert [f["path"] for f in as_json(run, "list", "file", "images@master")] == ["/a.csv"]


def test_odd_paths_through_the_cli(run: Tusk, images: str) -> None:
    path = "/ünï cödé/#1 ?&=%.txt"
    run("put", "file", f"images@master:{path}", "-f", "-", input=b"odd")
    assert run("get", "file", f"images@master:{path}").stdout_bytes == b"odd"
    assert as_json(run, "inspect", "file", f"images@master:{path}")["path"] == path


def test_version_with_and_without_a_server(run: Tusk) -> None:
    out = run("version").stdout
    assert f"client: {tusk.__version__}" in out and "server: 0.1.0-fake (api v1)" in out
    data = as_json(run, "version")
    assert data["server"] == {"version": "0.1.0-fake", "api": "v1"}
    offline = run("--url", "http://127.0.0.1:9", "version").stdout
    assert "server: unreachable" in offline


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("inspect", "repo", "nope"), 'tusk: error: repo "nope" not found'),
        (("create", "repo", "images"), 'tusk: error: repo "images" already exists'),
        (("get", "file", "images@master:/missing"), "tusk: error: "),
        (("list", "file", "images@nobranch"), 'tusk: error: ref "nobranch" not found in repo "images"'),
    ],
)
def test_server_errors_are_one_line_with_exit_1(run: Tusk, images: str, args: tuple[str, ...], message: str) -> None:
    run("put", "file", "images@master:/a", "-f", "-", input=b"a")
    result = run(*args, ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_getting_a_directory_without_r_says_to_use_r(run: Tusk, images: str) -> None:
    run("put", "file", "images@master:/d/a", "-f", "-", input=b"a")
    result = run("get", "file", "images@master:/d", ok=False)
    assert result.exit_code == 1 and "is a directory: use get file -r -o DIR" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("inspect", "repo", "bad.name"),
        ("inspect", "commit", "images"),
        ("inspect", "file", "images@master"),
        ("list", "file", "images:/x"),
        ("get", "file", "images@master^x:/a"),
        ("put", "file", "images@master:/a"),  # no -f
        ("put", "file", "images@master:/a", "-f", "/no/such/local/file"),
        ("put", "file", "images@master", "-f", "-"),  # stdin needs a path
        ("get", "file", "-r", "images@master:/d"),  # -r needs -o
        ("start", "commit", "images@master^1"),
        ("frobnicate", "repo"),
    ],
)
def test_usage_errors_exit_2(run: Tusk, images: str, args: tuple[str, ...]) -> None:
    result = run(*args, ok=False)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_put_of_a_directory_without_r_is_a_usage_error(run: Tusk, images: str, tmp_path: Path) -> None:
    result = run("put", "file", "images@master:/x", "-f", str(tmp_path), ok=False)
    assert result.exit_code == 2 and "use -r" in result.stderr


def test_an_unreachable_server_says_how_to_start_one(run: Tusk) -> None:
    result = run("--url", "http://127.0.0.1:9", "list", "repo", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("tusk: error: cannot connect to Tusk at http://127.0.0.1:9")
    assert "tusk up" in result.stderr


def test_no_progress_bar_when_stderr_is_not_a_terminal(run: Tusk, images: str, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"0" * (6 << 20))
    result = run("put", "file", "images@master:/big.bin", "-f", str(big))
    assert result.stderr == ""
