"""Job steps as spans of the trace the job was made in (that of the commit.finished which triggered it).

The driver runs a job's steps later, in the pipeline's task, whose context is that of whoever kicked it
first; each step resumes the job's stored trace instead (`jobs.trace_context`), so the datum tasks it
sends, its output commit and the jobs downstream all join the trace of the upload that caused them.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from tusk_common.tracing import recording, resumed, tracer
from tusk_scheduler.deps import Deps

P = ParamSpec("P")
R = TypeVar("R")
Step = Callable[Concatenate[Deps, Any, P], Awaitable[R]]


def job_step(step: str) -> Callable[[Step[P, R]], Step[P, R]]:
    """Run a lifecycle step `fn(deps, job, ...)` inside a `job <step> <pipeline>` span of the job's trace."""

    def wrap(fn: Step[P, R]) -> Step[P, R]:
        @functools.wraps(fn)
        async def traced(deps: Deps, job: Any, *args: P.args, **kwargs: P.kwargs) -> R:
            if not recording():
                return await fn(deps, job, *args, **kwargs)
            attributes = {"tusk.pipeline": job["pipeline"], "tusk.job": job["id"],
                          "tusk.commit_set": job["commit_set"]}  # fmt: skip
            with tracer().start_as_current_span(f"job {step} {job['pipeline']}", attributes=attributes,
                                                context=resumed(job.get("trace_context"))):  # fmt: skip
                return await fn(deps, job, *args, **kwargs)

        return traced

    return wrap
