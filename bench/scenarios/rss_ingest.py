"""rss-ingest: the ingest process's peak resident memory while it takes the put-1g upload."""

from __future__ import annotations

from collections.abc import Iterator

from bench.context import Context, Scenario
from bench.report import Row, at_most
from bench.scenarios.put_1g import upload_big
from bench.sizes import MiB, human

NAME = "rss-ingest"


def run(ctx: Context) -> Iterator[Row]:
    up = ctx.attempt(lambda: upload_big(ctx))
    metric = f"ingest peak RSS during the {human(ctx.sizes.big_file)} put"
    goal = at_most(200, on="value", text="≤ 200 MiB")
    if up.value is None or up.value.rss is None:
        yield Row(NAME, metric, "MiB", None, "—", None, goal, up.error or (up.value.rss_error if up.value else ""))
        return
    rss = up.value.rss
    note = (f"max VmRSS of {rss.samples} samples; VmHWM {rss.hwm / MiB:.0f} MiB; "
            f"{rss.start_rss / MiB:.0f} MiB before the upload")
    yield Row(NAME, metric, "MiB", rss.peak / MiB, "—", None, goal, note,
              extra={"vm_hwm": rss.hwm, "start_rss": rss.start_rss, "samples": rss.samples})


SCENARIO = Scenario(NAME, "peak RSS of ingest during the big upload (measured in put-1g)", run, needs=("big",))
