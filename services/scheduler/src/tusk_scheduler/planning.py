"""From a job's input commits to its datums and their tasks: list trees, expand the spec, plan.

Datums are a pure function of (spec version, input trees), so the tasks of a job can be rebuilt at any
time from the commits recorded on the job: a replica taking over a job recomputes them instead of
storing every task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tusk_common.wire.pipelines import (
    DatumInputFile,
    DatumInputInfo,
    DatumTask,
    JobInput,
    TaskInput,
    TaskSecret,
    TaskTransform,
)
from tusk_common.wire.versioning import FileContent
from tusk_scheduler.adapters.versioning import Versioning
from tusk_scheduler.blobs import put_json
from tusk_scheduler.deps import Deps
from tusk_scheduler.domain.datums import Datum, FileEntry, Snapshot, compute_datums
from tusk_scheduler.domain.spec import Input, PipelineSpec, spec_from_dict
from tusk_scheduler.domain.spec_inputs import PfsInput

Branch = tuple[str, str]


def input_branches(inp: Input) -> list[Branch]:
    """Every (repo, branch) the input tree reads, in spec order, without repeats."""
    out: list[Branch] = []
    for node in _walk(inp):
        if node.pfs is not None:
            key = (node.pfs.repo, node.pfs.branch)
        elif node.cron is not None:
            key = (node.cron.repo, "master")
        else:
            continue
        if key not in out:
            out.append(key)
    return out


def _walk(inp: Input) -> Iterator[Input]:
    yield inp
    for child in inp.children:
        yield from _walk(child)


def pfs_inputs(inp: Input, loc: str = "input") -> Iterator[tuple[str, PfsInput]]:
    """(field path, pfs input) of every pfs input, for errors that name the field."""
    if inp.pfs is not None:
        yield f"{loc}.pfs", inp.pfs
    for i, child in enumerate(inp.children):
        yield from pfs_inputs(child, f"{loc}.{inp.kind}[{i}]")


def cron_inputs(inp: Input) -> list[Any]:
    return [node.cron for node in _walk(inp) if node.cron is not None]


@dataclass
class Trees:
    """The listings of a job's input commits."""

    snapshots: dict[Branch, Snapshot] = field(default_factory=dict)
    contents: dict[Branch, dict[str, FileContent]] = field(default_factory=dict)


async def load_trees(versioning: Versioning, inputs: Sequence[JobInput]) -> Trees:
    trees = Trees()

    async def one(inp: JobInput) -> None:
        files = await versioning.list_tree(inp.repo, inp.commit) if inp.commit else {}
        key = (inp.repo, inp.branch)
        contents = {p: f.content for p, f in files.items() if f.content is not None}
        trees.contents[key] = contents
        trees.snapshots[key] = Snapshot(
            repo=inp.repo, branch=inp.branch, commit=inp.commit,
            files={p: FileEntry("file", c.id, c.size) for p, c in contents.items()},
        )  # fmt: skip

    await asyncio.gather(*(one(i) for i in inputs))
    return trees


def expand(spec: PipelineSpec, version: Any, trees: Trees) -> list[Datum]:
    """The datums of the job's spec version on its input trees, hashed as the version says."""
    return compute_datums(
        spec.input, trees.snapshots.values(), transform_hash=version["datum_transform_hash"], salt=version["salt"]
    )


def datum_inputs(datum: Datum) -> list[dict[str, Any]]:
    return [
        DatumInputInfo(
            name=i.name, repo=i.repo, branch=i.branch, commit=i.commit, path=i.path, file_count=len(i.files),
            join_on=i.join_on, group_by=i.group_by,
        ).model_dump(mode="json")
        for i in datum.inputs
    ]  # fmt: skip


def task_transform(spec: PipelineSpec) -> TaskTransform:
    t = spec.transform
    return TaskTransform(
        cmd=list(t.cmd), stdin=list(t.stdin), env=dict(t.env),
        secrets=[TaskSecret(**s.model_dump()) for s in t.secrets], image=t.image, err_cmd=list(t.err_cmd),
        err_stdin=list(t.err_stdin), accept_return_code=list(t.accept_return_code), working_dir=t.working_dir,
    )  # fmt: skip


class TaskBuilder:
    """Builds the tasks of one job's datums."""

    def __init__(self, deps: Deps, job: Any, version: Any, trees: Trees) -> None:
        self.deps = deps
        self.job = job
        self.spec = spec_from_dict(version["spec"])
        self.transform = task_transform(self.spec)
        self.trees = trees
        self.flags = {
            (p.name, p.repo, p.branch): (p.lazy, p.empty_files) for _, p in pfs_inputs(self.spec.input)
        }

    def input_bytes(self, datum: Datum) -> int:
        """Bytes of the files the datum reads (what `datum_set_spec.size_bytes` counts)."""
        total = 0
        for i in datum.inputs:
            contents = self.trees.contents.get((i.repo, i.branch), {})
            total += sum(c.size for p, _ in i.files if (c := contents.get(p)) is not None)
        return total

    async def build(self, datum: Datum, generation: int = 0) -> DatumTask:
        inputs = []
        for i in datum.inputs:
            contents = self.trees.contents.get((i.repo, i.branch), {})
            files = [DatumInputFile(path=p, content=contents[p]) for p, _ in i.files]
            ref = None
            if len(files) > self.deps.settings.inline_files:
                ref = await put_json(self.deps.store, [f.model_dump(mode="json") for f in files])
                files = []
            lazy, empty = self.flags.get((i.name, i.repo, i.branch), (False, False))
            inputs.append(TaskInput(
                name=i.name, repo=i.repo, branch=i.branch, commit=i.commit, path=i.path, files=files,
                files_ref=ref, lazy=lazy, empty_files=empty, join_on=i.join_on, group_by=i.group_by,
            ))  # fmt: skip
        return DatumTask(
            pipeline=self.job["pipeline"], pipeline_version=self.job["pipeline_version"], job=self.job["id"],
            datum_id=datum.datum_id, datum_hash=datum.datum_hash, commit_set=self.job["commit_set"],
            output_commit=self.job["output_commit"], generation=generation, transform=self.transform,
            datum_tries=self.spec.datum_tries, datum_timeout=self.spec.datum_timeout, inputs=inputs,
        )  # fmt: skip


async def current_inputs(deps: Deps, spec: PipelineSpec) -> list[JobInput]:
    """The newest finished commit of each input branch of `spec` (None for a branch without one)."""

    async def one(repo: str, branch: str) -> JobInput:
        head = await deps.versioning.finished_head(repo, branch)
        return JobInput(repo=repo, branch=branch, commit=head.id if head else None)

    return list(await asyncio.gather(*(one(r, b) for r, b in input_branches(spec.input))))
