"""The pipeline API from the outside: REST routes served by ingest, the SDK, and the `tusk` CLI."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

import tusk.cli.pipeline_commands  # noqa: F401  (tusk.cli.main imports it once it is wired)
from tusk import Client
from tusk.cli.main import run
from tusk.pipelines import api

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


@pytest_asyncio.fixture
async def url(stack: Stack, tmp_path: Path) -> AsyncIterator[str]:
    """Ingest's API with the pipeline routes added, on a free port."""
    from tusk_common.service import ServiceContext, running_service
    from tusk_ingest.app import Ingest, build
    from tusk_ingest.entrypoints.http.app import API_ROUTES, make_app
    from tusk_ingest.settings import IngestSettings

    settings = IngestSettings(**{k: getattr(stack.base, k) for k in ("nats", "database", "store", "s3", "ops")},
                              http_addr="127.0.0.1:0")  # fmt: skip
    made: list[Ingest] = []

    async def capture(ctx: ServiceContext) -> None:
        made.append(await build(ctx))

    async with running_service("ingest", settings, capture):
        app = make_app(made[0].deps, routes=API_ROUTES)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            yield f"http://{host}:{port}"
        finally:
            await runner.cleanup()


async def test_sdk_over_rest_runs_a_pipeline_and_reads_jobs_datums_logs_and_secrets(stack: Stack, url: str,
                                                                                    tmp_path: Path):  # fmt: skip
    await stack.repo("in")
    c = await stack.put("in", {"/a": "x", "/b": "y"})
    spec = pipeline("echo", pfs("in", "/*"), ["sh", "-c", "echo hi; cp -r /pfs/in/. /pfs/out/"])
    (tmp_path / "echo.yaml").write_text(json.dumps(spec))

    def sdk() -> None:
        with Client(url) as client:
            p = api(client)
            dry = p.create_pipeline(tmp_path / "echo.yaml", dry_run=True)[0]
            assert dry.datum_count == 2
            created = p.create_pipeline(tmp_path / "echo.yaml")[0]
            job = p.wait_job("echo", created.job, timeout=30)
            assert job.state == "success" and job.counts.processed == 2
            assert [x.id for x in p.list_jobs("echo")] == [job.id]
            assert len(p.list_datums("echo", job.id)) == 2
            assert [ln.message for ln in p.logs("echo", job=job.id) if ln.stream == "stdout"] == ["hi", "hi"]
            assert p.inspect_pipeline("echo", history=True).versions[0].version == 1
            status = p.wait_commit_set(c.commit_set, repo="in", commit=c.id, timeout=10)
            assert status.done and not status.failed
            secret = p.create_secret({"kind": "Secret", "metadata": {"name": "k"}, "stringData": {"a": "secret-v"}})
            assert secret.keys == ["a"] and [s.name for s in p.list_secrets()] == ["k"]
            p.delete_secret("k")
            p.stop_pipeline("echo")
            assert p.inspect_pipeline("echo").state == "paused"
            p.start_pipeline("echo")

    await asyncio.to_thread(sdk)


async def test_cli_commands_drive_pipelines(stack: Stack, url: str, tmp_path: Path, capsys: pytest.CaptureFixture):
    await stack.repo("in")
    await stack.put("in", {"/a": "x"})
    spec_file = tmp_path / "p.yaml"
    spec_file.write_text("pipeline: {name: cli}\ninput: {pfs: {repo: in, glob: /*}}\n"
                         "transform: {cmd: [sh, -c, 'echo from-cli; cp -r /pfs/in/. /pfs/out/']}\n")  # fmt: skip

    def cli(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = run(["--url", url, *args])
        # The services run in this process too: drop their log lines from what the CLI printed.
        out = capsys.readouterr().out.splitlines()
        return code, "\n".join(ln for ln in out if not LOG_LINE.match(ln))

    def drive() -> None:
        assert cli("create", "pipeline", "-f", str(spec_file))[0] == 0
        code, out = cli("--json", "list", "job", "-p", "cli")
        job = json.loads(out)[0]["id"]
        assert cli("wait", "job", f"cli@{job}", "--timeout", "30")[0] == 0
        code, out = cli("list", "pipeline")
        assert code == 0 and "cli" in out
        code, out = cli("inspect", "job", f"cli@{job}")
        assert code == 0 and "1 processed" in out
        code, out = cli("list", "datum", f"cli@{job}")
        assert code == 0 and "success" in out
        code, out = cli("logs", "-p", "cli")
        assert code == 0 and "from-cli" in out
        assert cli("update", "pipeline", "-f", str(spec_file), "--reprocess")[0] == 0
        code, out = cli("inspect", "pipeline", "cli", "--history")
        assert code == 0 and "TRANSFORM" in out and re.search(r"^2 .*True", out, re.M) and re.search(r"^1 ", out, re.M)
        code, out = cli("inspect", "pipeline", "cli", "--version", "1")
        assert code == 0 and "Version: 1 (current: 2)" in out and "Cmd: sh -c echo from-cli;" in out
        code, out = cli("--json", "inspect", "pipeline", "cli", "--version", "1")
        assert json.loads(out)["spec"]["transform"]["cmd"] == ["sh", "-c", "echo from-cli; cp -r /pfs/in/. /pfs/out/"]
        assert cli("inspect", "pipeline", "cli", "--version", "9")[0] == 1
        assert cli("stop", "pipeline", "cli")[0] == 0
        assert cli("start", "pipeline", "cli")[0] == 0
        assert cli("delete", "pipeline", "cli")[0] == 0
        assert cli("inspect", "pipeline", "cli")[0] == 1

    await asyncio.to_thread(drive)
