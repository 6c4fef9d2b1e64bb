"""The pipeline DAG: pipeline P reads its input repos and writes repo P.

Graphs are given as `{pipeline name: set of input repo names}`; a repo that is no pipeline's name is a
user repo (a source). Cycles are reported in data-flow order: `a → b → a` means a's output feeds b and
b's output feeds a.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from tusk_common.errors import Invalid
from tusk_scheduler.domain.spec import Input, PipelineSpec


def input_repos(spec: PipelineSpec | Input) -> set[str]:
    """Every repo the pipeline reads: pfs repos and cron tick repos, at any depth."""
    inp = spec.input if isinstance(spec, PipelineSpec) else spec
    if inp.pfs is not None:
        return {inp.pfs.repo}
    if inp.cron is not None:
        return {inp.cron.repo}
    return set().union(*(input_repos(child) for child in inp.children))


def check_no_cycle(existing: Mapping[str, Iterable[str]], new_name: str, new_inputs: Iterable[str]) -> None:
    """Raise Invalid if adding (or updating) pipeline `new_name` reading `new_inputs` closes a cycle."""
    graph = {name: set(inputs) for name, inputs in existing.items()}
    graph[new_name] = set(new_inputs)
    # Depth-first over "reads from" edges, starting at the new pipeline; a path back to it is a cycle.
    path = [new_name]
    on_path = {new_name}
    done: set[str] = set()
    stack = [iter(sorted(graph[new_name]))]
    while stack:
        nxt = next(stack[-1], None)
        if nxt is None:
            stack.pop()
            finished = path.pop()
            on_path.discard(finished)
            done.add(finished)
            continue
        if nxt == new_name:
            cycle = [*reversed([*path, new_name])]  # the reads-from chain, reversed: data-flow order
            raise Invalid(
                f"pipeline {new_name!r} would create a cycle: {' → '.join(cycle)}",
                field="input",
                cycle=cycle,
            )
        if nxt in graph and nxt not in done and nxt not in on_path:
            path.append(nxt)
            on_path.add(nxt)
            stack.append(iter(sorted(graph[nxt])))


def topological_order(pipelines: Mapping[str, Iterable[str]]) -> list[str]:
    """Pipeline names, each after every pipeline it reads from; ties by name. Raises Invalid on a cycle."""
    inputs = {name: {r for r in repos if r in pipelines} for name, repos in pipelines.items()}
    readers: dict[str, list[str]] = {name: [] for name in pipelines}
    for name, ups in inputs.items():
        for up in ups:
            readers[up].append(name)
    pending = {name: len(ups) for name, ups in inputs.items()}
    ready = [name for name, n in pending.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for reader in readers[name]:
            pending[reader] -= 1
            if pending[reader] == 0:
                heapq.heappush(ready, reader)
    if len(order) != len(pipelines):
        stuck = sorted(name for name, n in pending.items() if n > 0)
        raise Invalid(f"the pipelines {', '.join(stuck)} form a cycle", field="input", pipelines=stuck)
    return order


def downstream(pipelines: Mapping[str, Iterable[str]], repo: str) -> list[str]:
    """Pipelines that a new commit to `repo` eventually triggers, in topological order."""
    affected: set[str] = set()
    frontier = {repo}
    while frontier:
        hit = {
            name
            for name, repos in pipelines.items()
            if name not in affected and not frontier.isdisjoint(repos)
        }
        affected |= hit
        frontier = hit
    return [name for name in topological_order(pipelines) if name in affected]


def upstream_pipelines(pipelines: Mapping[str, Iterable[str]], name: str) -> set[str]:
    """Every pipeline whose output flows into `name`, directly or through other pipelines."""
    found: set[str] = set()
    todo = [r for r in pipelines.get(name, ()) if r in pipelines]
    while todo:
        up = todo.pop()
        if up not in found and up != name:
            found.add(up)
            todo.extend(r for r in pipelines[up] if r in pipelines)
    return found
