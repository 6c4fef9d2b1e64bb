"""Rows of the bench: Tusk's figure, the reference's figure from the same run, their ratio and the goal.

`ratio` is always tusk / reference in the row's unit, so a goal reads the same way for every row:
"ratio ≥ 0.5" (half the disk's speed) or "ratio ≤ 0.5" (at most half of DVC's time).
A verdict is computed for the report, never asserted: the bench only reports.
"""

from __future__ import annotations

import json
import math
import operator
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

PASS, MISS, NA = "PASS", "MISS", "n/a"

_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}
_SYMBOLS = {">=": "≥", "<=": "≤"}


@dataclass(frozen=True)
class Check:
    """One bound: on Tusk's value (in the row's unit) or on the ratio tusk / reference."""

    on: Literal["value", "ratio"]
    op: Literal[">=", "<="]
    bound: float

    def holds(self, value: float | None, ratio: float | None) -> bool | None:
        x = value if self.on == "value" else ratio
        if x is None or math.isnan(x):
            return None
        return _OPS[self.op](x, self.bound)


@dataclass(frozen=True)
class Goal:
    """What "good" means for a row; `text` is how the table shows it."""

    text: str
    checks: tuple[Check, ...]

    def verdict(self, value: float | None, ratio: float | None) -> str:
        results = [c.holds(value, ratio) for c in self.checks]
        if any(r is False for r in results):
            return MISS
        if any(r is None for r in results):
            return NA
        return PASS


def at_least(bound: float, on: Literal["value", "ratio"] = "ratio", text: str | None = None) -> Goal:
    return Goal(text or _text(on, ">=", bound), (Check(on, ">=", bound),))


def at_most(bound: float, on: Literal["value", "ratio"] = "ratio", text: str | None = None) -> Goal:
    return Goal(text or _text(on, "<=", bound), (Check(on, "<=", bound),))


def _text(on: str, op: str, bound: float) -> str:
    return f"{'ratio ' if on == 'ratio' else ''}{_SYMBOLS[op]} {bound:g}"


@dataclass(frozen=True)
class Row:
    """One line of the report. A figure that could not be measured is None, and `note` says why."""

    scenario: str
    metric: str
    unit: str
    tusk: float | None
    reference: str
    ref: float | None
    goal: Goal | None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.tusk is None or self.ref is None or self.ref == 0:
            return None
        return self.tusk / self.ref

    @property
    def verdict(self) -> str:
        return self.goal.verdict(self.tusk, self.ratio) if self.goal else "—"

    def as_json(self) -> dict[str, object]:
        d = asdict(self)
        d["goal"] = self.goal.text if self.goal else None
        d["checks"] = [asdict(c) for c in self.goal.checks] if self.goal else []
        d["ratio"] = self.ratio
        d["verdict"] = self.verdict
        return d


def notes(*parts: str) -> str:
    """The non-empty parts of a row's note, joined."""
    return "; ".join(dict.fromkeys(_clip(p) for p in parts if p))


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt(x: float | None) -> str:
    if x is None:
        return "—"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 0.01:
        return f"{x:.2f}"
    return f"{x:.2g}"


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}"


HEADER = ("scenario", "metric", "tusk", "reference", "ref", "ratio", "goal", "verdict", "note")


def cells(row: Row) -> tuple[str, ...]:
    unit = f" {row.unit}" if row.unit else ""
    return (
        row.scenario,
        row.metric,
        fmt(row.tusk) + (unit if row.tusk is not None else ""),
        row.reference,
        fmt(row.ref) + (unit if row.ref is not None else ""),
        fmt_ratio(row.ratio),
        row.goal.text if row.goal else "—",
        row.verdict,
        row.note,
    )


def line(row: Row) -> str:
    """The row as printed the moment it is measured."""
    c = cells(row)
    text = f"[{c[0]}] {c[1]}: tusk {c[2]} | {c[3]} {c[4]} | ratio {c[5]} | goal {c[6]} → {c[7]}"
    return text + (f"  ({row.note})" if row.note else "")


def table(rows: Sequence[Row]) -> str:
    """Plain text, columns aligned; the note column is last so long notes do not push the others."""
    grid = [HEADER, *(cells(r) for r in rows)]
    widths = [max(len(r[i]) for r in grid) for i in range(len(HEADER) - 1)]
    out = []
    for i, r in enumerate(grid):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
        if i == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(s.rstrip() for s in out)


def markdown(rows: Sequence[Row]) -> str:
    """The same table for docs/bench.md."""
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(c.replace("|", "/") for c in cells(r)) + " |" for r in rows]
    return "\n".join(out)


def read_json(path: Path) -> tuple[dict[str, Any], list[Row]]:
    """A results.json back into its header and rows (for `--markdown`)."""
    doc = json.loads(path.read_text())
    rows = []
    for r in doc.pop("rows"):
        goal = Goal(r["goal"], tuple(Check(**c) for c in r["checks"])) if r["goal"] else None
        rows.append(Row(r["scenario"], r["metric"], r["unit"], r["tusk"], r["reference"], r["ref"], goal,
                        r["note"], r["extra"]))
    return doc, rows


def write_json(path: Path, rows: Sequence[Row], meta: dict[str, object]) -> None:
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"python": sys.version.split()[0], "platform": platform.platform()},
        **meta,
        "rows": [r.as_json() for r in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
