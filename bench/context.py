"""What the scenarios share in one run: the work dir, sizes, reference tools, the Tusk stack (started on
first use), the disk's speeds, the shared inputs and results one scenario measures for another."""

from __future__ import annotations

import subprocess
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from bench import disk, workload
from bench.report import Row
from bench.sizes import Sizes
from bench.stack import TuskStack
from bench.toolbox import Toolbox, Unavailable
from bench.workdir import Workdir, remove

T = TypeVar("T")

# Seeds of the shared inputs: distinct, so no two workloads dedup against each other.
SEED_BIG, SEED_MIXED_BIG, SEED_MIXED_SMALL, SEED_MANY, SEED_EDIT = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Scenario:
    """One row-producing module of `bench/scenarios/`; `needs` names the shared inputs it uses."""

    name: str
    about: str
    run: Callable[[Context], Iterator[Row]]
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A side of a comparison: its value, or why there is none."""

    value: T | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None


class Context:
    def __init__(self, work: Workdir, sizes: Sizes, log: Callable[[str], None]) -> None:
        self.work = work
        self.sizes = sizes
        self.log = log
        self.tools = Toolbox(work, log)
        self._stack: TuskStack | Unavailable | None = None
        self._memo: dict[str, Any] = {}
        self.facts: dict[str, Any] = {}  # measured context written to results.json (disk speeds, ...)

    # ------------------------------------------------------------------ tusk

    def stack(self) -> TuskStack:
        """The running stack, started on first use; raises `Unavailable` (every time) if it cannot start."""
        if self._stack is None:
            stack = TuskStack(self.work, self.log)
            try:
                stack.start()
                self._stack = stack
                self.facts["tusk_cli_startup_s"] = round(stack.cli_startup, 3)
            except Unavailable as e:
                self.log(str(e))
                stack.stop()
                self._stack = e
            except (OSError, subprocess.SubprocessError, RuntimeError) as e:
                stack.stop()
                self._stack = Unavailable(f"stack not available: {e}")
                self.log(str(self._stack))
        if isinstance(self._stack, Unavailable):
            raise self._stack
        return self._stack

    def close(self) -> None:
        if isinstance(self._stack, TuskStack):
            self.log("stopping the stack (tusk down)")
            self._stack.stop()

    # ------------------------------------------------------------------ shared facts

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` once per run (a failure is remembered too and raised again)."""
        if key not in self._memo:
            try:
                self._memo[key] = compute()
            except Exception as e:  # remembered, re-raised to every caller
                self._memo[key] = e
        found = self._memo[key]
        if isinstance(found, Exception):
            raise found
        return found

    def disk(self) -> disk.DiskSpeed:
        def measure() -> disk.DiskSpeed:
            speed = disk.measure(self.work, self.sizes.disk_probe)
            self.facts["disk"] = asdict(speed)
            return speed

        return self.memo("disk", measure)

    def attempt(self, fn: Callable[[], T]) -> Outcome[T]:
        """Run one side of a comparison; a failure becomes the row's note instead of ending the bench."""
        try:
            return Outcome(fn())
        except Unavailable as e:
            return Outcome(None, str(e))
        except Exception as e:  # reported in the row (and its traceback in the log), never raised
            self.log("".join(traceback.format_exception_only(e)).strip())
            return Outcome(None, f"failed: {_one_line(e)}")

    def then(self, prev: Outcome[Any], fn: Callable[[Any], T]) -> Outcome[T]:
        """`fn(prev.value)` as another attempt, or prev's reason when prev has no value."""
        if prev.value is None:
            return Outcome(None, prev.error)
        value = prev.value
        return self.attempt(lambda: fn(value))

    # ------------------------------------------------------------------ shared inputs

    def big_file(self) -> Path:
        """The "1 GiB" random file of put-1g, edit-1m and get-1g (edit-1m edits it in place)."""
        return workload.random_file(self.work.inputs / "big" / "big.bin", self.sizes.big_file, SEED_BIG)

    def release(self, name: str) -> None:
        """Remove shared input `name` once no scenario left in the run needs it."""
        remove(self.work.inputs / name)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().replace("\n", " ")
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__
