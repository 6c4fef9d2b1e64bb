"""`python -m bench [--only NAME …] [--quick] [--list]`: run the scenarios one at a time, print each row as
it is measured, then the whole table; write `.bench/results.json`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime

from bench import report
from bench.context import Context, Scenario
from bench.report import Row
from bench.scenarios import SCENARIOS
from bench.sizes import FULL, QUICK
from bench.workdir import Workdir, remove


def _log(msg: str) -> None:
    print(f"  · {msg}", flush=True)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    names = [s.name for s in SCENARIOS]
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=f"run only these: {', '.join(names)}")
    p.add_argument("--quick", action="store_true", help="sizes about 10x smaller: a smoke run")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--markdown", action="store_true", help="print the last results.json as a markdown table")
    p.add_argument("--keep-data", action="store_true", help="keep .bench/tusk-data after the run")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:16} {s.about}")
        return 0
    if args.markdown:
        return _print_markdown()
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    sizes = QUICK if args.quick else FULL
    work = Workdir()
    if not work.lock():
        print(f"another bench is running on {work.root}; not starting a second one", file=sys.stderr)
        return 1
    # Stop on SIGTERM (and on SIGINT even when started in the background, where the shell ignores it)
    # through the `finally` below, so the stack is always taken down.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    work.clear_leftovers()
    ctx = Context(work, sizes, _log)
    started = datetime.now(UTC)
    print(f"tusk bench ({sizes.label} sizes): {', '.join(s.name for s in chosen)}; work dir {work.root}",
          flush=True)
    rows: list[Row] = []
    t0 = time.monotonic()
    try:
        for i, scenario in enumerate(chosen):
            rows += _run_one(ctx, scenario)
            work.clear_scratch(scenario.name)
            for name in _released_after(chosen, i):
                ctx.release(name)
    finally:
        ctx.close()
        if not args.keep_data:
            remove(work.tusk_data)
    print("\n" + report.table(rows))
    report.write_json(work.results, rows, {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - t0, 1),
        "sizes": sizes.label,
        "scenarios": [s.name for s in chosen],
        "tools": ctx.tools.versions(),
        "cpus": os.cpu_count(),
        "facts": ctx.facts,
    })
    print(f"\nresults: {work.results}")
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _print_markdown() -> int:
    meta, rows = report.read_json(Workdir().results)
    print(f"Run of {meta['date']} ({meta['sizes']} sizes, {meta['seconds']:.0f} s, {meta['cpus']} CPUs); "
          f"tools: {', '.join(meta['tools'].values())}.\n")
    print(report.markdown(rows))
    return 0


def _run_one(ctx: Context, scenario: Scenario) -> list[Row]:
    print(f"\n== {scenario.name}: {scenario.about}", flush=True)
    t0 = time.monotonic()
    rows: list[Row] = []
    try:
        for row in scenario.run(ctx):
            print(report.line(row), flush=True)
            rows.append(row)
    except Exception as e:  # a broken scenario is a row of the report, not the end of the bench
        traceback.print_exc(file=sys.stdout)
        row = Row(scenario.name, "scenario error", "", None, "—", None, None, f"{type(e).__name__}: {e}"[:300])
        print(report.line(row), flush=True)
        rows.append(row)
    _log(f"{scenario.name} took {time.monotonic() - t0:.0f} s")
    return rows


def _released_after(chosen: Sequence[Scenario], i: int) -> list[str]:
    """Shared inputs scenario `i` used that no later scenario needs."""
    later = {n for s in chosen[i + 1:] for n in s.needs}
    return [n for n in chosen[i].needs if n not in later]
