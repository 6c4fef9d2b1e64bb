"""Cross, union, join and group inputs, end to end: what each datum sees under /pfs."""

from __future__ import annotations

import re

from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.wire import pipelines as w

# Each datum writes one file named by its datum id listing the input files it saw.
LIST = ["sh", "-c", 'find /pfs -path /pfs/out -prune -o -type f -print | sort | tr "\\n" " " > /pfs/out/$PACH_DATUM_ID']


def seen(files: dict[str, str]) -> list[str]:
    """What each datum listed, with the local runner's scratch prefix folded back to /pfs."""
    return sorted(re.sub(r"\S*/pfs/", "/pfs/", text).strip() for text in files.values())


async def test_cross_union_join_and_group_inputs(stack: Stack):
    await stack.repo("left")
    await stack.repo("right")
    await stack.put("left", {"/1.txt": "a", "/2.txt": "b"})
    await stack.put("right", {"/2.txt": "c", "/3.txt": "d"})
    replies = [
        await stack.create(pipeline("cross", {"cross": [pfs("left", "/*"), pfs("right", "/*")]}, LIST)),
        await stack.create(pipeline("union", {"union": [pfs("left", "/*"), pfs("right", "/*")]}, LIST)),
        await stack.create(pipeline("join", {"join": [
            pfs("left", "/(*).txt", join_on="$1", outer_join=True), pfs("right", "/(*).txt", join_on="$1")]}, LIST)),
        await stack.create(pipeline("group", {"group": [
            pfs("left", "/(*).txt", group_by="$1"), pfs("right", "/(*).txt", group_by="$1")]}, LIST)),
    ]  # fmt: skip
    for r in replies:
        assert r.job is not None
        job = await stack.wait_job(r.pipeline.name, r.job)
        assert job.state == "success", job
    assert seen(await stack.files("cross")) == [
        "/pfs/left/1.txt /pfs/right/2.txt", "/pfs/left/1.txt /pfs/right/3.txt",
        "/pfs/left/2.txt /pfs/right/2.txt", "/pfs/left/2.txt /pfs/right/3.txt",
    ]  # fmt: skip
    assert seen(await stack.files("union")) == ["/pfs/left/1.txt", "/pfs/left/2.txt", "/pfs/right/2.txt",
                                                "/pfs/right/3.txt"]  # fmt: skip
    # Inner join on the file name, plus left's unmatched file (outer); right's /3.txt is not outer.
    assert seen(await stack.files("join")) == ["/pfs/left/1.txt", "/pfs/left/2.txt /pfs/right/2.txt"]
    assert seen(await stack.files("group")) == ["/pfs/left/1.txt", "/pfs/left/2.txt /pfs/right/2.txt",
                                                "/pfs/right/3.txt"]  # fmt: skip


async def test_env_names_the_job_datum_commit_set_and_inputs(stack: Stack):
    await stack.repo("src")
    c = await stack.put("src", {"/dir/a.txt": "x"})
    spec = pipeline("env", pfs("src", "/*"), ["sh", "-c", "env | sort > /pfs/out/env"],
                    transform={"env": {"GREETING": "hi"}})  # fmt: skip
    r = await stack.create(spec)
    job = await stack.wait_job("env", r.job)
    env = dict(line.split("=", 1) for line in (await stack.files("env"))["/env"].splitlines() if "=" in line)
    datum = (await stack.call(w.ListDatums(pipeline="env", job=job.id))).datums[0]
    assert env["GREETING"] == "hi"
    assert env["TUSK_JOB_ID"] == env["PACH_JOB_ID"] == job.id
    assert env["TUSK_DATUM_ID"] == env["PACH_DATUM_ID"] == datum.datum_id
    assert env["TUSK_COMMIT_SET"] == job.commit_set
    assert env["src_COMMIT"] == c.id
    assert env["src"].endswith("/src/dir")
    assert env["TUSK_PFS_OUT"].endswith("/out")
    assert not any(k.startswith(("TUSK_DATABASE", "TUSK_NATS")) for k in env), "worker settings leaked"
