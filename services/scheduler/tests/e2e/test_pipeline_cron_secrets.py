"""Cron inputs tick on schedule; secrets are sealed at rest, injected, and never shown."""

from __future__ import annotations

import base64
import json

import pytest
from pipeline_stack import Stack, pipeline  # type: ignore[import-not-found]

from tusk_common.errors import AlreadyExists, Conflict, NotFound
from tusk_common.wire import pipelines as w

TOKEN = "s3cr3t-token-value"


async def test_cron_input_commits_ticks_that_run_jobs(stack: Stack):
    spec = pipeline("ticker", {"cron": {"name": "tick", "spec": "@every 1s"}},
                    ["sh", "-c", "ls /pfs/tick > /pfs/out/$(ls /pfs/tick)"])  # fmt: skip
    await stack.create(spec)
    info = await stack.call(w.InspectPipeline(name="ticker"))
    assert info.input_repos == ["ticker_tick"]

    async def two_ticks() -> bool:
        jobs = [j for j in await stack.jobs("ticker") if j.state == "success"]
        return len(jobs) >= 2

    await stack.eventually(two_ticks, within=20)
    ticks = await stack.files("ticker_tick")
    assert len(ticks) >= 2 and all(p.startswith("/20") and p.endswith("Z") for p in ticks)
    outputs = await stack.files("ticker")
    assert set(outputs) <= set(ticks) and len(outputs) >= 1
    await stack.call(w.DeletePipeline(name="ticker"))
    assert await stack.files("ticker_tick") == {}


async def test_cron_overwrite_keeps_only_the_latest_tick(stack: Stack):
    spec = pipeline("latest", {"cron": {"name": "tick", "spec": "@every 1s", "overwrite": True}}, ["true"])
    await stack.create(spec)

    async def two_ticks() -> bool:
        return len([j for j in await stack.jobs("latest") if j.state == "success"]) >= 2

    await stack.eventually(two_ticks, within=20)
    assert len(await stack.files("latest_tick")) == 1


async def test_secrets_are_injected_but_never_shown(stack: Stack, capfd: pytest.CaptureFixture[str]):
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tracker"}, "type": "Opaque",
           "data": {"token": base64.b64encode(TOKEN.encode()).decode()}, "stringData": {"url": "http://mlflow:5000"}}
    info = await stack.call(w.CreateSecret(secret=doc))
    assert info.keys == ["token", "url"] and TOKEN not in info.model_dump_json()
    with pytest.raises(AlreadyExists):
        await stack.call(w.CreateSecret(secret=doc))
    await stack.repo("in")
    await stack.put("in", {"/a": "x"})
    script = [
        'echo "token is $TRACKER_TOKEN"',
        'dir=${TUSK_SECRET_TRACKER_DIR}',
        'printf %s "$TRACKER_TOKEN" | sha256sum | cut -c1-16 > /pfs/out/env-hash',
        'cat "$dir/url" > /pfs/out/url',
        'ls "$dir" > /pfs/out/keys',
    ]
    spec = pipeline("uses-secret", {"pfs": {"repo": "in", "glob": "/"}}, ["sh"], stdin=script, transform={
        "secrets": [{"name": "tracker", "key": "token", "env_var": "TRACKER_TOKEN"},
                    {"name": "tracker", "mount_path": "/secrets/tracker"}]})  # fmt: skip
    r = await stack.create(spec)
    job = await stack.wait_job("uses-secret", r.job)
    assert job.state == "success", job
    files = await stack.files("uses-secret")
    import hashlib

    assert files["/env-hash"].strip() == hashlib.sha256(TOKEN.encode()).hexdigest()[:16]
    assert files["/url"] == "http://mlflow:5000" and files["/keys"].split() == ["token", "url"]
    logs = await stack.call(w.GetLogs(pipeline="uses-secret"))
    assert [ln.message for ln in logs.lines if ln.stream == "stdout"] == ["token is [redacted]"]
    shown = [
        await stack.call(w.InspectPipeline(name="uses-secret", history=True)),
        await stack.call(w.ListSecrets()),
        await stack.call(w.InspectJob(pipeline="uses-secret", job=job.id)),
        logs,
    ]
    assert all(TOKEN not in json.dumps(s.model_dump(mode="json")) for s in shown)
    # Nor in the services' own logs (here in this process, on its stdout): they logged the job that ran
    # with the secret, and never the value, plain or base64.
    out, err = capfd.readouterr()
    service_logs = out + err
    assert "datum.finished" in service_logs and job.id in service_logs
    assert TOKEN not in service_logs and base64.b64encode(TOKEN.encode()).decode() not in service_logs
    with pytest.raises(NotFound):  # values only go to workers of a running job
        await stack.call(w.ResolveSecrets(job=job.id))
    with pytest.raises(Conflict, match="used by pipeline"):
        await stack.call(w.DeleteSecret(name="tracker"))
    await stack.call(w.DeletePipeline(name="uses-secret"))
    await stack.call(w.DeleteSecret(name="tracker"))
    assert (await stack.call(w.ListSecrets())).secrets == []


async def test_secrets_are_sealed_at_rest(stack: Stack):
    doc = {"kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": TOKEN}}
    await stack.call(w.CreateSecret(secret=doc))
    pool = stack.schedulers[0].deps.pool
    row = await pool.fetchrow("SELECT * FROM secrets WHERE name = 'db'")
    assert TOKEN.encode() not in bytes(row["sealed"]) and TOKEN not in str(dict(row))
