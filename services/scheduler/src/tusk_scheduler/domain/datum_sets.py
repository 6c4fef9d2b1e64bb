"""Cutting a job's datums into datum sets: the unit a worker pulls, acknowledges and gets again if it dies.

A set's datums run one after another in one worker slot, so a set saves a worker the queue round trips
of every datum after its first (what makes thousands of tiny datums cheap), while enough sets keep every
worker of the pipeline busy to the end. As Pachyderm 2 does, a job of n datums is cut by default into
sets of n / (parallelism * 4) datums (capped by the scheduler's `max_set_datums`), unless the spec's
`datum_set_spec` says otherwise:

- `number`: at most this many datums per set;
- `size_bytes`: at most this many input bytes per set (a datum bigger than that is a set of its own);
- `per_worker`: about this many sets per unit of parallelism (n / (parallelism * per_worker) datums each).

A set closes at the first limit it reaches. Datums keep their order, so the same datums give the same sets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from tusk_scheduler.domain.spec import DatumSetSpec

T = TypeVar("T")
DEFAULT_PER_WORKER = 4


def set_limits(spec: DatumSetSpec | None, datums: int, parallelism: int, max_set_datums: int) -> tuple[int, int]:
    """(datums per set, input bytes per set or 0) for a job of `datums` datums."""
    number = spec.number if spec is not None else 0
    size_bytes = spec.size_bytes if spec is not None else 0
    per_worker = spec.per_worker if spec is not None else 0
    if not (number or size_bytes or per_worker):
        per_worker = DEFAULT_PER_WORKER
    if per_worker:
        spread = max(1, math.ceil(datums / (max(1, parallelism) * per_worker)))
        # The scheduler's cap bounds a set made by the default or by `per_worker`; an explicit
        # `number` is the user's choice (the message size still splits a set too big to send).
        spread = min(spread, max_set_datums)
        number = min(number, spread) if number else spread
    return (number or max(1, datums)), size_bytes


def cut(items: Sequence[T], sizes: Sequence[int], number: int, size_bytes: int) -> list[list[T]]:
    """`items` in order, cut into sets of at most `number` items and (when set) `size_bytes` bytes."""
    sets: list[list[T]] = []
    current: list[T] = []
    held = 0
    for item, size in zip(items, sizes, strict=True):
        if current and (len(current) >= number or (size_bytes and held + size > size_bytes)):
            sets.append(current)
            current, held = [], 0
        current.append(item)
        held += size
    if current:
        sets.append(current)
    return sets
