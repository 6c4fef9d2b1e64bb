"""A new user's tour of versioning through the `tusk` command (docs/cli.md, docs/api.md), against the
real services running as their own processes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tusk.stack.testing import E2EStack, TuskResult, UpProcess, run_tusk


def names(res: TuskResult) -> list[str]:
    return [f["path"] for f in res.json()]


def one_error_line(res: TuskResult, *fragments: str) -> str:
    """The failure is reported as one line naming the problem, with no traceback."""
    assert res.code != 0, res
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert "Traceback" not in res.err, res.err
    errors = [ln for ln in lines if ln.startswith(("tusk: error:", "Error:"))]
    assert len(errors) == 1, res.err
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Local files a user would upload: a file, a nested directory, binary content."""
    (tmp_path / "hello.txt").write_text("hello, tusk\n")
    raw = tmp_path / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "one.csv").write_text("a,b\n1,2\n")
    (raw / "sub" / "two.csv").write_text("c\n3\n")
    (raw / "notes.md").write_text("# notes\n")
    (tmp_path / "blob.bin").write_bytes(os.urandom(700_000))
    return tmp_path


def test_a_new_user_creates_a_repo_uploads_and_reads_files_back(stack: E2EStack, workdir: Path) -> None:
    t = stack.tusk
    t("create", "repo", "images", "-d", "my first repo")
    assert [r["name"] for r in t("list", "repo", "--json").json()] == ["images"]

    t("put", "file", "images@master:/hello.txt", "-f", str(workdir / "hello.txt"))
    t("put", "file", "-r", "images@master:/raw", "-f", str(workdir / "raw"))
    t("put", "file", "images@master:/blob.bin", "-f", str(workdir / "blob.bin"))
    t("put", "file", "images@master:/stdin.txt", "-f", "-", input=b"from a pipe\n")

    assert names(t("list", "file", "images@master", "--json")) == ["/blob.bin", "/hello.txt", "/raw", "/stdin.txt"]
    assert names(t("list", "file", "-r", "images@master:/raw", "--json")) == [
        "/raw/notes.md", "/raw/one.csv", "/raw/sub/two.csv"]
    assert names(t("glob", "file", "images@master:/**.csv", "--json")) == ["/raw/one.csv", "/raw/sub/two.csv"]

    assert t("get", "file", "images@master:/hello.txt").out == b"hello, tusk\n"
    assert t("get", "file", "images@master:/stdin.txt").out == b"from a pipe\n"
    out = workdir / "blob.out"
    t("get", "file", "images@master:/blob.bin", "-o", str(out))
    assert out.read_bytes() == (workdir / "blob.bin").read_bytes()
    t("get", "file", "-r", "images@master:/raw", "-o", str(workdir / "raw.out"))
    assert (workdir / "raw.out" / "sub" / "two.csv").read_text() == "c\n3\n"

    info = t("inspect", "file", "images@master:/blob.bin", "--json").json()
    assert (info["type"], info["size"]) == ("file", 700_000)
    assert t("inspect", "file", "images@master:/raw", "--json").json()["file_count"] == 3
    human = t("inspect", "file", "images@master:/hello.txt").text
    assert "Path: /hello.txt" in human and "Type: file" in human

    diff = t("diff", "file", "images@master", "--json").json()  # the last put against its parent
    assert [(d["change"], d["path"]) for d in diff] == [("added", "/stdin.txt")]
    diff = t("diff", "file", "images@master", "--old", "images@master^3", "--json").json()
    assert {(d["change"], d["path"]) for d in diff} == {
        ("added", "/raw/notes.md"), ("added", "/raw/one.csv"), ("added", "/raw/sub/two.csv"),
        ("added", "/blob.bin"), ("added", "/stdin.txt")}

    commits = t("list", "commit", "images", "--json").json()
    assert len(commits) == 4 and all(c["state"] == "finished" for c in commits)
    repo = t("inspect", "repo", "images", "--json").json()
    assert repo["description"] == "my first repo" and repo["file_count"] == 6


def test_puts_into_an_open_commit_land_in_that_one_commit(stack: E2EStack, workdir: Path) -> None:
    t = stack.tusk
    t("create", "repo", "batch")
    t("put", "file", "batch@master:/base.txt", "-f", str(workdir / "hello.txt"))
    commit = t("start", "commit", "batch@master", "-m", "nightly import").text.strip()
    assert len(commit) == 32
    t("put", "file", "batch@master:/a.txt", "-f", str(workdir / "hello.txt"))
    t("put", "file", "-r", "batch@master:/raw", "-f", str(workdir / "raw"))
    t("put", "file", f"batch@{commit}:/b.bin", "-f", str(workdir / "blob.bin"))
    assert t("inspect", "commit", f"batch@{commit}", "--json").json()["state"] == "open"
    t("finish", "commit", "batch@master")

    done = t("inspect", "commit", "batch@master", "--json").json()
    assert done["id"] == commit and done["state"] == "finished" and done["description"] == "nightly import"
    assert len(t("list", "commit", "batch", "--json").json()) == 2
    changed = {d["path"] for d in t("diff", "file", "batch@master", "--json").json()}
    assert changed == {"/a.txt", "/b.bin", "/raw/notes.md", "/raw/one.csv", "/raw/sub/two.csv"}
    assert t("wait", "commit", "batch@master", "--json").json()["commit"]["id"] == commit

    late = t("put", "file", f"batch@{commit}:/late.txt", "-f", str(workdir / "hello.txt"), ok=False)
    one_error_line(late, "finished")


def test_branch_caret_n_travels_back_in_time_byte_for_byte(stack: E2EStack, tmp_path: Path) -> None:
    t = stack.tusk
    t("create", "repo", "history")
    versions = [os.urandom(300_000 + i) for i in range(4)]
    for i, content in enumerate(versions):
        src = tmp_path / f"v{i}.bin"
        src.write_bytes(content)
        t("put", "file", "history@master:/data.bin", "-f", str(src))
    for back in range(4):
        got = tmp_path / f"got{back}.bin"
        t("get", "file", f"history@master^{back}:/data.bin", "-o", str(got))
        assert got.read_bytes() == versions[-1 - back], f"master^{back}"
    first = t("inspect", "commit", "history@master^3", "--json").json()
    assert t("get", "file", f"history@{first['id']}:/data.bin").out == versions[0]
    t("create", "branch", "history@old", "--head", "master^2")
    assert t("get", "file", "history@old:/data.bin").out == versions[1]
    assert stack.client.inspect_branch("history", "old").head == t(
        "inspect", "commit", "history@master^2", "--json").json()["id"]


def test_delete_copy_squash_and_delete_commit(stack: E2EStack, workdir: Path) -> None:
    t = stack.tusk
    t("create", "repo", "edit")
    t("put", "file", "-r", "edit@master:/raw", "-f", str(workdir / "raw"))     # commit 1
    t("copy", "file", "edit@master:/raw/one.csv", "edit@master:/copied.csv")  # commit 2
    assert t("get", "file", "edit@master:/copied.csv").out == b"a,b\n1,2\n"
    t("delete", "file", "edit@master:/raw/sub")                                # commit 3
    assert names(t("list", "file", "-r", "edit@master", "--json")) == [
        "/copied.csv", "/raw/notes.md", "/raw/one.csv"]
    assert {(d["change"], d["path"]) for d in t("diff", "file", "edit@master", "--json").json()} == {
        ("deleted", "/raw/sub/two.csv")}
    t("delete", "file", "edit@master:/raw/notes.md")                           # commit 4
    ids = [c["id"] for c in t("list", "commit", "edit", "--json").json()]
    assert len(ids) == 4

    t("squash", "commit", f"edit@{ids[2]}")  # commit 2 folds into commit 3; data of later commits unchanged
    after = [c["id"] for c in t("list", "commit", "edit", "--json").json()]
    assert after == [ids[0], ids[1], ids[3]]
    assert names(t("list", "file", "-r", "edit@master", "--json")) == ["/copied.csv", "/raw/one.csv"]
    assert t("get", "file", "edit@master^1:/raw/notes.md").out == b"# notes\n"

    t("delete", "commit", "edit@master")  # the head goes; master moves back to its parent
    assert [c["id"] for c in t("list", "commit", "edit", "--json").json()] == [ids[1], ids[3]]
    assert t("get", "file", "edit@master:/raw/notes.md").out == b"# notes\n"
    one_error_line(t("get", "file", f"edit@{ids[0]}:/raw/one.csv", ok=False), "not found")


def test_mistakes_get_one_clear_line_and_a_failing_exit_code(stack: E2EStack, workdir: Path) -> None:
    t = stack.tusk
    t("create", "repo", "strict")
    t("put", "file", "strict@master:/a.txt", "-f", str(workdir / "hello.txt"))
    src = str(workdir / "hello.txt")
    one_error_line(t("create", "repo", "bad.name", ok=False), "bad.name")
    one_error_line(t("create", "repo", "strict", ok=False), "already exists")
    one_error_line(t("put", "file", "strict@master:/../x.txt", "-f", src, ok=False), "..")
    one_error_line(t("get", "file", "strict@master:/a/../../etc/passwd", ok=False), "..")
    one_error_line(t("get", "file", "nope@master:/a.txt", ok=False), "nope", "not found")
    one_error_line(t("get", "file", "strict@nobranch:/a.txt", ok=False), "nobranch", "not found")
    one_error_line(t("get", "file", "strict@master^5:/a.txt", ok=False), "master^5")
    one_error_line(t("get", "file", "strict@master:/missing.txt", ok=False), "/missing.txt", "not found")
    one_error_line(t("inspect", "commit", f"strict@{'0' * 32}", ok=False), "not found")
    one_error_line(t("list", "file", "ghost@master", ok=False), "ghost")
    commit = t("start", "commit", "strict@master").text.strip()
    t("finish", "commit", f"strict@{commit}")
    one_error_line(t("put", "file", f"strict@{commit}:/b.txt", "-f", src, ok=False), "finished")
    assert t("get", "file", "strict@master:/a.txt").out == b"hello, tusk\n"  # nothing changed


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_restart_of_the_whole_stack_loses_nothing_acknowledged(
    tusk_up: Callable[..., UpProcess], workdir: Path
) -> None:
    up = tusk_up()
    up.wait_ready()

    def t(*args: str, **kwargs: object) -> TuskResult:
        return run_tusk(up.url, *args, **kwargs)  # type: ignore[arg-type]

    t("create", "repo", "durable")
    blob = (workdir / "blob.bin").read_bytes()
    t("put", "file", "durable@master:/blob.bin", "-f", str(workdir / "blob.bin"))
    t("put", "file", "-r", "durable@master:/raw", "-f", str(workdir / "raw"))
    t("create", "branch", "durable@dev", "--head", "master")
    open_commit = t("start", "commit", "durable@master", "-m", "in progress").text.strip()
    t("put", "file", "durable@master:/staged.txt", "-f", "-", input=b"staged before the restart\n")
    before = t("list", "commit", "durable", "--json").json()

    assert up.stop() == 0, up.output()
    again = tusk_up(up.data_dir, up.port)
    again.wait_ready()

    def t2(*args: str, **kwargs: object) -> TuskResult:
        return run_tusk(again.url, *args, **kwargs)  # type: ignore[arg-type]

    assert t2("list", "commit", "durable", "--json").json() == before
    assert t2("get", "file", "durable@master^1:/blob.bin").out == blob
    assert t2("inspect", "branch", "durable@dev", "--json").json()["head"] == before[1]["id"]
    assert t2("inspect", "commit", f"durable@{open_commit}", "--json").json()["state"] == "open"
    t2("finish", "commit", "durable@master")
    assert t2("get", "file", "durable@master:/staged.txt").out == b"staged before the restart\n"
    assert names(t2("list", "file", "-r", "durable@master", "--json")) == [
        "/blob.bin", "/raw/notes.md", "/raw/one.csv", "/raw/sub/two.csv", "/staged.txt"]
    assert again.stop() == 0, again.output()
