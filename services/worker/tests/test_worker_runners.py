"""The runners: output lines, stdin, exit codes, timeouts, missing programs; /pfs in a sandbox or rewritten."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tusk_worker.runners.base import Runner
from tusk_worker.runners.local import LocalRunner
from tusk_worker.runners.sandbox import SandboxRunner, bwrap_works

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}


async def _runners(tmp: Path) -> list[Runner]:
    runners: list[Runner] = [LocalRunner(tmp / "local", 1)]
    if shutil.which("bwrap") and await bwrap_works(tmp):
        runners.append(SandboxRunner(tmp / "sandbox", 1))
    return runners


async def test_runners_stream_lines_feed_stdin_and_report_exit_codes(tmp_path: Path):
    for runner in await _runners(tmp_path):
        try:
            async with runner.slot() as slot:
                lines: list[tuple[str, str]] = []
                out = await slot.run(["sh", "-c", "cat; echo err >&2; printf 'no newline'; exit 4"], ENV, None,
                                     b"a\nb\n", lambda s, t: lines.append((s, t)),  # noqa: B023
                                     timeout=10, kill_grace=1, max_line=100)  # fmt: skip
                assert out.code == 4, runner.name
                assert sorted(lines) == sorted([("stdout", "a"), ("stdout", "b"), ("stderr", "err"),
                                                ("stdout", "no newline")])  # fmt: skip
                missing = await slot.run(["no-such-program-here"], ENV, None, None, lambda s, t: None,
                                         timeout=5, kill_grace=1, max_line=100)  # fmt: skip
                assert missing.code == 127 and missing.error
                slow = await slot.run(["sleep", "20"], ENV, None, None, lambda s, t: None, timeout=0.2,
                                      kill_grace=0.5, max_line=100)  # fmt: skip
                assert slow.timed_out and slow.seconds < 5
                long: list[str] = []
                await slot.run(["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x"], ENV, None, None,
                               lambda s, t: long.append(t),  # noqa: B023
                               timeout=5, kill_grace=1, max_line=100)  # fmt: skip
                assert long and all(len(t) <= 100 for t in long)
        finally:
            await runner.close()


async def test_inputs_and_outputs_live_under_pfs(tmp_path: Path):
    for runner in await _runners(tmp_path):
        try:
            async with runner.slot() as slot:
                (slot.pfs_dir / "in").mkdir()
                (slot.pfs_dir / "in" / "a").write_text("hello")
                argv = [slot.rewrite(a) for a in ["cp", "/pfs/in/a", "/pfs/out/b"]]
                out = await slot.run(argv, ENV, None, None, lambda s, t: None, timeout=5, kill_grace=1, max_line=100)
                assert out.code == 0 and (slot.pfs_dir / "out" / "b").read_text() == "hello"
            async with runner.slot() as slot:  # the next datum starts clean
                assert sorted(p.name for p in slot.pfs_dir.iterdir()) == ["out"]
        finally:
            await runner.close()


async def test_the_sandbox_shows_pfs_and_hides_the_hosts_tmp(tmp_path: Path):
    if not (shutil.which("bwrap") and await bwrap_works(tmp_path)):
        pytest.skip("bubblewrap cannot make a sandbox here")
    (tmp_path / "host-secret").write_text("x")
    runner = SandboxRunner(tmp_path / "sandbox", 1)
    try:
        async with runner.slot(("/secrets/db",)) as slot:
            lines: list[str] = []
            script = f"ls /pfs; test -e {tmp_path}/host-secret && echo leaked; ls -d /secrets/db; touch /usr/x || echo ro"
            out = await slot.run(["sh", "-c", script], ENV, None, None, lambda s, t: lines.append(t), timeout=10,
                                 kill_grace=1, max_line=200)  # fmt: skip
            assert out.code == 0, lines
            assert "out" in lines and "/secrets/db" in lines and "leaked" not in lines and "ro" in lines
    finally:
        await runner.close()
