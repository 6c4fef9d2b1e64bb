"""A two-stage DAG driven by puts: word count per file, then a reduce over all counts."""

from __future__ import annotations

from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

WORDCOUNT = pipeline(
    "wordcount", pfs("books", "/*"), ["sh"],
    stdin=["for f in $(find /pfs/books -type f); do n=$(wc -w < $f); echo $n > /pfs/out/$(basename $f).count; done"],
)  # fmt: skip
TOTAL = pipeline(
    "total", pfs("wordcount", "/"), ["sh"],
    stdin=["cat /pfs/wordcount/*.count | awk '{s+=$1} END {print s+0}' > /pfs/out/total"],
)  # fmt: skip


async def test_two_stage_dag_runs_on_puts_and_only_on_what_changed(stack: Stack):
    await stack.repo("books")
    first = await stack.put("books", {"/a.txt": "one two three", "/b.txt": "four five"})
    created = await stack.create(WORDCOUNT)
    assert created.created and created.job is not None
    await stack.create(TOTAL)
    await stack.wait_job("wordcount", created.job)
    await stack.eventually(lambda: _total(stack, "5"))
    assert await stack.files("wordcount") == {"/a.txt.count": "3\n", "/b.txt.count": "2\n"}

    # A put moves both stages; the first one runs only the new datum, and its output commit is in the
    # input commit's commit set.
    second = await stack.put("books", {"/c.txt": "six seven eight nine"})
    status = await stack.wait_set(second)
    assert {j.pipeline for j in status.jobs} == {"wordcount", "total"}
    assert all(j.state == "success" for j in status.jobs)
    wc = next(j for j in status.jobs if j.pipeline == "wordcount")
    assert (wc.counts.total, wc.counts.processed, wc.counts.skipped) == (3, 1, 2)
    assert wc.trigger is not None and wc.trigger.commit == second.id
    assert await stack.files("total") == {"/total": "9\n"}

    # Deleting an input removes its outputs downstream.
    third = await stack.put("books", {"/a.txt": None})
    await stack.wait_set(third)
    assert await stack.files("wordcount") == {"/b.txt.count": "2\n", "/c.txt.count": "4\n"}
    assert await stack.files("total") == {"/total": "6\n"}
    assert first.commit_set != second.commit_set


async def _total(stack: Stack, value: str) -> bool:
    return (await stack.files("total")).get("/total") == value + "\n"
