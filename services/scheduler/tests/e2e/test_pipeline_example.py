"""The example in examples/wordcount runs as documented: word counts per book, then the top words."""

from __future__ import annotations

from pathlib import Path

import yaml
from pipeline_stack import Stack  # type: ignore[import-not-found]

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "wordcount"


async def test_the_wordcount_example_runs_and_reruns_only_the_new_book(stack: Stack):
    await stack.repo("books")
    await stack.put("books", {f"/{p.name}": p.read_text() for p in sorted((EXAMPLE / "books").iterdir())})
    for name in ("wordcount.yaml", "top-words.yaml"):
        await stack.create(yaml.safe_load((EXAMPLE / name).read_text()))
    job = await stack.last_job("wordcount")
    assert job.state == "success" and job.counts.processed == 3
    await stack.eventually(lambda: _top(stack))
    counts = await stack.files("wordcount")
    assert sorted(counts) == ["/alice.counts", "/moby.counts", "/pride.counts"]
    assert "alice 2" in counts["/alice.counts"].splitlines()
    commit = await stack.put("books", {"/fox.txt": "The quick brown fox jumps over the lazy dog. The dog sleeps.\n"})
    status = await stack.wait_set(commit)
    wc = next((j for j in status.jobs if j.pipeline == "wordcount"), None)
    assert wc is not None, (commit, status)
    assert (wc.counts.processed, wc.counts.skipped) == (1, 3)
    top = (await stack.files("top-words"))["/top10.txt"].splitlines()
    assert top[0].split()[1] == "the" and len(top) == 10


async def _top(stack: Stack) -> bool:
    return "/top10.txt" in await stack.files("top-words")
