"""A diamond DAG (A → B, A → C, B + C → D): one change to A makes exactly one job of D, which reads the
B and C commits of that same commit set (Pachyderm's rule: one job per pipeline and commit set)."""

from __future__ import annotations

from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

UPPER = pipeline("upper", pfs("letters", "/"), ["sh"],
                 stdin=["for f in /pfs/letters/*; do tr a-z A-Z < $f > /pfs/out/$(basename $f); done"])
# `sleep` makes one side of the diamond finish well after the other.
COUNT = pipeline("count", pfs("letters", "/"), ["sh"],
                 stdin=["sleep 1; cat /pfs/letters/* | wc -c | tr -d ' ' > /pfs/out/chars"])
JOINED = pipeline(
    "joined", {"cross": [pfs("upper", "/"), pfs("count", "/")]}, ["sh"],
    stdin=["echo upper=$(cat /pfs/upper/a) chars=$(cat /pfs/count/chars) > /pfs/out/report"],
)  # fmt: skip


async def test_a_diamond_makes_one_downstream_job_per_change_reading_both_sides_of_it(stack: Stack) -> None:
    await stack.repo("letters")
    await stack.put("letters", {"/a": "ab"})
    for spec in (UPPER, COUNT, JOINED):
        await stack.create(spec)
    await stack.eventually(lambda: _report(stack, "AB", 2))
    before = len(await stack.jobs("joined"))

    for text in ("abc", "abcd"):
        change = await stack.put("letters", {"/a": text})
        status = await stack.wait_set(change, within=60)
        by_pipeline: dict[str, list[str]] = {}
        for job in status.jobs:
            by_pipeline.setdefault(job.pipeline, []).append(job.id)
        assert {p: len(ids) for p, ids in by_pipeline.items()} == {"upper": 1, "count": 1, "joined": 1}, status.jobs
        assert all(j.state == "success" for j in status.jobs), status.jobs
        # The one job of `joined` read the commits `upper` and `count` made for this very change.
        outputs = {j.pipeline: j.output_commit for j in status.jobs}
        joined = await stack.wait_job("joined", by_pipeline["joined"][0])
        assert {i.repo: i.commit for i in joined.inputs} == {"upper": outputs["upper"], "count": outputs["count"]}
        assert await stack.files("joined") == {"/report": f"upper={text.upper()} chars={len(text)}\n"}
    # No job of `joined` ever ran on half a change.
    assert len(await stack.jobs("joined")) == before + 2


async def _report(stack: Stack, upper: str, chars: int) -> bool:
    return (await stack.files("joined")).get("/report") == f"upper={upper} chars={chars}\n"
