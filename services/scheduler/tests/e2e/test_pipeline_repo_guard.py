"""Repos in use by pipelines: the input repos a pipeline reads and its output repo are not deleted under
it (a clear Conflict naming the pipelines) until the pipeline is deleted, or with force."""

from __future__ import annotations

import pytest
from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]

from tusk_common.errors import Conflict, NotFound
from tusk_common.wire import pipelines as w
from tusk_common.wire import versioning as v

COPY = pipeline("copied", {"cross": [pfs("photos", "/*"), pfs("labels", "/")]}, ["sh"],
                stdin=["cp -r /pfs/photos/* /pfs/out/"])


async def test_repos_a_pipeline_reads_and_writes_are_kept_until_it_is_deleted(stack: Stack) -> None:
    await stack.repo("photos")
    await stack.repo("labels")
    await stack.put("photos", {"/a.jpg": "jpeg"})
    await stack.create(COPY)

    with pytest.raises(Conflict, match=r"repo 'photos' is read by pipeline\(s\) copied: delete them first"):
        await stack.call(v.DeleteRepo(name="photos"))
    with pytest.raises(Conflict, match="output of pipeline 'copied'"):
        await stack.call(v.DeleteRepo(name="copied"))
    assert (await stack.call(v.InspectRepo(name="photos"))).file_count == 1

    # An update that stops reading `labels` frees it; `photos` stays guarded.
    await stack.create({**COPY, "input": pfs("photos", "/*")}, update=True)
    await stack.call(v.DeleteRepo(name="labels"))
    with pytest.raises(Conflict):
        await stack.call(v.DeleteRepo(name="photos"))

    await stack.call(w.DeletePipeline(name="copied"))
    with pytest.raises(NotFound):
        await stack.call(v.InspectRepo(name="copied"))
    await stack.call(v.DeleteRepo(name="photos"))
