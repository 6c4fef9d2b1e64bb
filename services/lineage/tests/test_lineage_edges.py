"""The public edges of lineage: REST routes (with their OpenAPI), the SDK and the CLI, over the real stack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from lineage_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

import tusk
import tusk.cli.lineage_commands  # registers `tusk lineage` and `tusk reproduce`
from tusk.cli.main import run
from tusk.lineage import lineage_api
from tusk_common.errors import Invalid, NotFound
from tusk_common.service import ServiceContext, running_service
from tusk_ingest.app import Ingest
from tusk_ingest.app import build as build_ingest
from tusk_ingest.entrypoints.http.app import API_ROUTES, make_app
from tusk_ingest.openapi import render
from tusk_ingest.settings import IngestSettings

COPY = pipeline("copy", pfs("raw", "/*"), "cp -r /pfs/raw/* /pfs/out/")


@pytest_asyncio.fixture
async def api(stack: Stack) -> AsyncIterator[str]:
    """The ingest service's app with the lineage routes added, on a free port; yields its URL."""
    made: list[Ingest] = []
    fields = {k: getattr(stack.base, k) for k in ("nats", "database", "store", "s3", "ops")}

    async def build(ctx: ServiceContext) -> None:
        made.append(await build_ingest(ctx))

    async with running_service("ingest", IngestSettings(**fields, http_addr="127.0.0.1:0"), build):
        app = make_app(made[0].deps, routes=API_ROUTES)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


async def test_rest_sdk_and_cli_answer_lineage_and_reproduce(stack: Stack, api: str, capsys: pytest.CaptureFixture):
    await stack.repo("raw")
    await stack.create(COPY)
    c = await stack.put("raw", {"/a": "x"})
    await stack.wait_set(c)
    await stack.caught_up()
    out = await stack.head("copy")

    def sdk() -> None:
        with tusk.Client(api) as client:
            lin = lineage_api(client)
            up = lin.lineage("copy", "master", "/a")
            assert {(n.repo, n.commit, n.path) for n in up.graph.nodes if n.kind == "file"} == {
                ("copy", out.id, "/a"), ("raw", c.id, "/a")}  # fmt: skip
            dot = lin.lineage("raw", c.id, "/a", direction="downstream", format="dot")
            assert dot.rendered and "digraph" in dot.rendered
            cs = lin.commit_set_lineage(c.commit_set, format="mermaid")
            assert cs.rendered and cs.rendered.startswith("flowchart")
            plan = lin.reproduce("copy", "master")
            assert plan.steps[0].inputs[0].commit == c.id and plan.steps[0].spec is not None
            assert plan.roots[0].commit == c.id
            with pytest.raises(NotFound):
                lin.lineage("copy", "master", "/nope")
            with pytest.raises(Invalid):
                lin.lineage("copy", "master", depth=0)
            checked = lin.reproduce("copy", out.id, run=True, timeout=60)
            assert checked.check is not None and checked.check.identical and checked.check.same == 1
            assert checked.check.cleaned_up

    await asyncio.to_thread(sdk)
    code = await asyncio.to_thread(run, ["--url", api, "lineage", "copy@master:/a"])
    text = capsys.readouterr().out
    tree = [line for line in text.splitlines() if "[info" not in line and "[warning" not in line]
    assert code == 0 and tree[0].startswith(f"copy@{out.id}:/a") and f"raw@{c.id}:/a" in text
    code = await asyncio.to_thread(run, ["--url", api, "lineage", "copy@master", "--json"])
    text = capsys.readouterr().out
    lines = text.splitlines()
    doc = "\n".join(lines[lines.index("{") : lines.index("}") + 1])  # the service logs share stdout here
    assert code == 0 and json.loads(doc)["root"] == f"commit:{out.id}"
    code = await asyncio.to_thread(run, ["--url", api, "lineage", "--commit-set", c.commit_set, "--mermaid"])
    assert code == 0 and "flowchart LR" in capsys.readouterr().out
    code = await asyncio.to_thread(run, ["--url", api, "reproduce", "copy@master"])
    text = capsys.readouterr().out
    assert code == 0 and "pipeline: copy version 1" in text and f"raw@{c.id}" in text
    code = await asyncio.to_thread(run, ["--url", api, "lineage"])
    assert code == 2


def test_lineage_routes_are_documented_in_openapi():
    doc = json.loads(render(API_ROUTES, version="test"))
    op = doc["paths"]["/api/v1/lineage/{repo}/{ref}"]["get"]
    assert op["operationId"] == "getLineage"
    assert {p["name"] for p in op["parameters"]} == {"repo", "ref", "path", "direction", "depth", "format"}
    assert "post" in doc["paths"]["/api/v1/lineage/{repo}/{ref}/reproduce"]
    assert "/api/v1/lineage/commit-sets/{commit_set}" in doc["paths"]
