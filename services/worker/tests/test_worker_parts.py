"""Pieces of the worker: redaction of secret values, the transform environment, output collection."""

from __future__ import annotations

from pathlib import Path

from tusk_common.settings import StoreSettings
from tusk_common.store import ChunkStore
from tusk_common.store.fs import FsObjectStore
from tusk_common.wire.pipelines import DatumInputFile, DatumTask, TaskInput, TaskTransform
from tusk_worker.environment import transform_env
from tusk_worker.logship import Redactor
from tusk_worker.runners.local import LocalRunner
from tusk_worker.workspace import collect, materialize


def test_redactor_hides_values_and_their_lines():
    r = Redactor(["hunter22", "line-one\nline-two", "ab"])
    assert r("pw=hunter22 ok") == "pw=[redacted] ok"
    assert r("got line-two") == "got [redacted]"
    assert r("ab stays: too short to redact safely") == "ab stays: too short to redact safely"


def _task(**kw: object) -> DatumTask:
    return DatumTask(pipeline="p", pipeline_version=1, job="j" * 32, datum_id="d" * 64, datum_hash="h",
                     commit_set="s" * 32, transform=TaskTransform(cmd=["true"], env={"A": "/pfs/in"}),
                     inputs=[TaskInput(name="in", repo="r", branch="master", commit="c" * 32, path="/x")],
                     **kw)  # type: ignore[arg-type]  # fmt: skip


async def test_environment_has_job_ids_inputs_and_no_worker_settings(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TUSK_DATABASE_URL", "postgresql://user:pw@db/tusk")
    runner = LocalRunner(tmp_path, 1)
    async with runner.slot() as slot:
        env = transform_env(_task(), slot, {"TOKEN": "v"}, {"db": "/secrets/db"})
    assert env["PACH_JOB_ID"] == env["TUSK_JOB_ID"] == "j" * 32
    assert env["in"] == f"{slot.pfs}/in/x" and env["in_COMMIT"] == "c" * 32
    assert env["A"] == f"{slot.pfs}/in"  # /pfs rewritten for the local runner
    assert env["TOKEN"] == "v" and env["TUSK_SECRET_DB_DIR"] == "/secrets/db"
    assert "TUSK_DATABASE_URL" not in env


async def test_materialize_then_collect_outputs_reusing_input_contents(tmp_path: Path):
    store = ChunkStore(FsObjectStore(tmp_path / "objects"), StoreSettings(path=str(tmp_path / "objects")))
    content = await store.write_bytes(b"data")
    task = _task().model_copy(update={"inputs": [TaskInput(
        name="in", repo="r", branch="master", commit="c" * 32, path="/",
        files=[DatumInputFile(path="/dir/a.txt", content=content)])]})  # fmt: skip
    runner = LocalRunner(tmp_path / "slots", 1)
    async with runner.slot() as slot:
        got = await materialize(store, slot, task)
        assert (slot.pfs_dir / "in" / "dir" / "a.txt").read_bytes() == b"data" and got.bytes == 4
        out = slot.pfs_dir / "out"
        (out / "sub").mkdir()
        (out / "sub" / "new.txt").write_text("fresh")
        (out / "link").symlink_to(slot.pfs_dir / "in" / "dir" / "a.txt")
        (out / "escape").symlink_to("/etc/hostname")
        col = await collect(store, slot, got.files)
    assert sorted(col.outputs) == ["/link", "/sub/new.txt"]
    assert col.outputs["/link"] == content and col.skipped == ["/escape"]
    assert col.bytes == 5
