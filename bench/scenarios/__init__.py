"""The scenarios, in the order `make bench` runs them: add a module, then one line here."""

from __future__ import annotations

from bench.context import Scenario
from bench.scenarios import (
    edit_1m,
    finish_latency,
    get_1g,
    lineage,
    pipelines,
    put_1g,
    put_10k,
    rss_ingest,
    s3,
    snapshot_mixed,
)

SCENARIOS: tuple[Scenario, ...] = (
    put_1g.SCENARIO,
    edit_1m.SCENARIO,
    snapshot_mixed.SCENARIO,
    put_10k.SCENARIO,
    get_1g.SCENARIO,
    rss_ingest.SCENARIO,
    finish_latency.SCENARIO,
    lineage.SCENARIO,
    s3.SCENARIO,
    *pipelines.SCENARIOS,
)
