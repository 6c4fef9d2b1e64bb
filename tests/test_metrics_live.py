"""Metrics as operators see them, on a running stack (every service its own process, `stack` fixture).

- A real Prometheus (Debian's `prometheus`, started here on a free loopback port with a generated
  configuration) scrapes every service's ops port while the stack takes puts, a commit and a pipeline
  job, and answers PromQL with the values that work produced.
- Every metric the Grafana dashboards (`deploy/grafana/*.json`) and the worker's KEDA autoscaler query,
  and every metric of the reference in docs/operations.md, is on the live `/metrics` of some service,
  with the documented labels; each service's exposition passes `promtool check metrics`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from test_deploy import PROMETHEUS_SYNTHETIC, dashboard_metric_names, documented_metrics, keda_worker_query

from tusk.stack.testing import E2EStack
from tusk_common.embedded import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
NO_PROMETHEUS = "the prometheus binary is not installed (apt-get install prometheus; `make system-deps` does)"
PIPELINE = "upper"
BOOKS = {"/a.txt": b"the quick brown fox\n", "/b.txt": b"jumps over\n", "/c.txt": b"the lazy dog\n"}


# ---------------------------------------------------------------------------------------------- stack


def ops_ports(stack: E2EStack) -> dict[str, int]:
    """Service name -> its ops port, as `tusk status --json` lists them."""
    return {b.component.name: b.component.ops_port for b in stack.supervisor.workers}  # type: ignore[attr-defined]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return str(r.read().decode())


def drive(stack: E2EStack, tmp: Path) -> None:
    """What the metrics should reflect: atomic puts, an open commit finished, a pipeline job, reads."""
    t = stack.tusk
    t("create", "repo", "books")
    for path, data in list(BOOKS.items())[:2]:
        t("put", "file", f"books@master:{path}", "-f", "-", input=data)
    t("start", "commit", "books@master")
    t("put", "file", "books@master:/c.txt", "-f", "-", input=BOOKS["/c.txt"])
    t("finish", "commit", "books@master")
    spec = {"pipeline": {"name": PIPELINE}, "input": {"pfs": {"repo": "books", "glob": "/*"}},
            "transform": {"cmd": ["sh", "-c", "for f in /pfs/books/*; do tr a-z A-Z < $f > /pfs/out/${f##*/}; done"]}}
    (tmp / "upper.json").write_text(json.dumps(spec))
    t("create", "pipeline", "-f", str(tmp / "upper.json"))
    # The pipeline's first job has a commit set of its own (not the last input commit's): wait for it.
    (job,) = stack.client.list_jobs(PIPELINE)
    assert stack.client.wait_job(PIPELINE, job.id, timeout=60).state == "success"
    assert t("get", "file", f"{PIPELINE}@master:/a.txt").out == BOOKS["/a.txt"].upper()


# ---------------------------------------------------------------------------------------------- Prometheus


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """An instant query: (labels, value) of each sample (a scalar is one sample without labels)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        data = body["data"]
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(s["metric"], float(s["value"][1])) for s in data["result"]]

    def by(self, expr: str, label: str) -> dict[str, float]:
        return {labels.get(label, ""): value for labels, value in self.query(expr)}

    def one(self, expr: str) -> float:
        result = self.query(expr)
        assert len(result) == 1, f"{expr}: {result}"
        return result[0][1]

    def eventually(self, what: Callable[[], Any], timeout: float = 60.0) -> Any:
        """`what()` once it returns something true and stops raising AssertionError (scrapes lag)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = what()
                if got:
                    return got
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {timeout}s: {what}\n{self.log.read_text()[-2000:]}")
            time.sleep(0.5)


def prometheus_config(ports: dict[str, int]) -> dict[str, Any]:
    """Every service scraped each second, under the job names the dashboards expect (`tusk-<service>`)."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": f"tusk-{name}", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                           for name, port in sorted(ports.items())],
    }  # fmt: skip


@pytest.fixture
def prometheus(stack: E2EStack, tmp_path: Path) -> Iterator[Prometheus]:
    root = tmp_path / "prometheus"
    root.mkdir()
    config = root / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(ops_ports(stack))))
    check = subprocess.run([PROMTOOL, "check", "config", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    log = root / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    prom = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"prometheus exited {proc.returncode}: {log.read_text()}"
            try:
                with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"prometheus not ready: {log.read_text()}"
            time.sleep(0.2)
        yield prom
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.timeout(300)
@pytest.mark.skipif(not os.access(PROMETHEUS, os.X_OK), reason=NO_PROMETHEUS)
def test_prometheus_scrapes_every_service_and_answers_promql_with_the_work_done(
    stack: E2EStack, prometheus: Prometheus, tmp_path: Path
) -> None:
    services = set(ops_ports(stack))
    assert {"versioning", "ingest"} <= services

    prometheus.eventually(lambda: prometheus.by('up{job=~"tusk-.*"}', "job") == dict.fromkeys(
        (f"tusk-{s}" for s in services), 1.0))  # fmt: skip
    drive(stack, tmp_path)
    for _ in range(6):  # more requests spread over scrapes, so that rates have increases to see
        stack.tusk("list", "repo", "--json")
        time.sleep(0.5)

    builds = prometheus.eventually(lambda: prometheus.query("tusk_build_info"))
    assert {labels["service"] for labels, _ in builds} == services
    assert all(v == 1 and labels["version"] and labels["job"] == f"tusk-{labels['service']}"
               for labels, v in builds)  # fmt: skip

    # Request latency: a quantile over a rate of the HTTP histogram, in seconds.
    p50 = prometheus.eventually(lambda: [v for _, v in prometheus.query(
        "histogram_quantile(0.5, sum by (le) (rate(tusk_http_request_seconds_bucket[1m])))") if not math.isnan(v)])
    assert 0 < p50[0] < 10
    # The last requests show once Prometheus has scraped after them (every second).
    assert prometheus.eventually(lambda: prometheus.one(
        'sum(tusk_http_requests_total{route="/api/v1/repos", method="GET", status="200"})') >= 6)
    assert prometheus.one("sum(tusk_http_upload_bytes_total)") >= sum(len(b) for b in BOOKS.values())

    # Commit finish latency: two atomic puts (each its own commit), and two finishes of open commits (the
    # user's, and the job's output commit, which the scheduler stages into and finishes).
    kinds = prometheus.eventually(lambda: prometheus.by("sum by (kind) (tusk_commit_finish_seconds_count)", "kind"))
    assert kinds["atomic"] >= 2 and kinds["finish"] >= 2, kinds
    finish_p95 = prometheus.one("histogram_quantile(0.95, sum by (le) (tusk_commit_finish_seconds_bucket))")
    assert 0 < finish_p95 < 30

    # Jobs and datums by state, read from the scheduler's tables at scrape time.
    jobs = prometheus.eventually(lambda: (j := prometheus.by("sum by (state) (tusk_jobs)", "state"))
                                 .get("success") == 1 and j)  # fmt: skip
    assert jobs["running"] == 0 and jobs["failure"] == 0 and set(jobs) == {
        "created", "starting", "running", "finishing", "success", "failure", "killed", "unrunnable"}
    datums = prometheus.eventually(lambda: (d := prometheus.by(
        f'sum by (state) (tusk_datums{{pipeline="{PIPELINE}"}})', "state")).get("processed") == 3 and d)
    assert datums["pending"] == 0 and datums["failed"] == 0
    assert prometheus.one("count(tusk_job_seconds_bucket)") > 0

    # The worker's datum metrics (Pachyderm's pachyderm_worker_datum_* set).
    assert prometheus.by("sum by (state) (tusk_worker_datum_count_total)", "state") == {"processed": 3}
    assert prometheus.one(f'sum(tusk_worker_datum_download_bytes_total{{pipeline="{PIPELINE}"}})') == sum(
        len(b) for b in BOOKS.values())
    assert prometheus.one(f'sum(tusk_worker_datum_upload_bytes_total{{pipeline="{PIPELINE}"}})') == sum(
        len(b) for b in BOOKS.values())
    proc_p50 = prometheus.one("histogram_quantile(0.5, sum by (le) (tusk_worker_datum_proc_seconds_bucket))")
    assert 0 < proc_p50 < 60
    slots = prometheus.one("sum(tusk_worker_slots)")
    assert slots >= 1 and prometheus.one("sum(tusk_worker_slots) - sum(tusk_worker_busy)") == slots

    # The bus: events out and in, consumer lag and the queue drained, the outboxes empty.
    assert prometheus.one('sum(tusk_events_published_total{subject="tusk.events.commit.finished"})') >= 4
    consumed = prometheus.by('sum by (consumer) (tusk_events_consumed_total{outcome="ok"})', "consumer")
    assert consumed.get("tusk-scheduler-commits", 0) >= 4, consumed
    lag = prometheus.eventually(lambda: (m := prometheus.by(
        'max by (consumer) (tusk_consumer_lag{stream="TUSK_DATUMS"})', "consumer")) == {f"tusk-worker-{PIPELINE}": 0}
        and m)  # fmt: skip
    assert lag
    prometheus.eventually(lambda: prometheus.one('max(tusk_consumer_lag{stream="TUSK_EVENTS"})') == 0)
    assert prometheus.by("sum by (pipeline) (tusk_datum_queue_depth)", "pipeline") == {PIPELINE: 0}
    prometheus.eventually(lambda: prometheus.by("sum by (job) (tusk_outbox_backlog)", "job") == dict.fromkeys(
        (j for j in ("tusk-versioning", "tusk-scheduler", "tusk-lineage") if j.removeprefix("tusk-") in services),
        0.0))  # fmt: skip

    # The chunk store and the RPCs behind it.
    assert prometheus.one('sum(tusk_store_bytes_written_total{backend="fs"})') > 0
    methods = prometheus.by('sum by (method) (tusk_rpc_requests_total{service="versioning", code="ok"})', "method")
    assert methods.get("file.put", 0) >= 3 and methods.get("commit.finish", 0) >= 2, methods

    # What KEDA scales the workers on: the datum backlog, one number, 0 once everything ran.
    assert prometheus.one(keda_worker_query()) == 0


# ---------------------------------------------------------------------------------------------- /metrics


def exposed(text: str) -> tuple[set[str], dict[str, set[frozenset[str]]]]:
    """Series names a `/metrics` text exposes (a histogram family counts as its `_bucket`, `_sum` and
    `_count`, even before its first observation), and the label sets seen per family."""
    names: set[str] = set()
    labels: dict[str, set[frozenset[str]]] = {}
    for family in text_string_to_metric_families(text):
        if family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        elif family.type == "counter":
            names.add(f"{family.name}_total")
        else:
            names.add(family.name)
        for sample in family.samples:
            names.add(sample.name)
            if not sample.name.endswith("_created"):
                labels.setdefault(family.name + ("_total" if family.type == "counter" else ""), set()).add(
                    frozenset(sample.labels) - {"le"})
    return names, labels


@pytest.mark.timeout(300)
def test_every_dashboard_and_autoscaler_metric_is_on_the_live_metrics_and_promtool_accepts_them(
    stack: E2EStack, tmp_path: Path
) -> None:
    drive(stack, tmp_path)
    texts = {name: scrape(port) for name, port in ops_ports(stack).items()}

    if os.access(PROMTOOL, os.X_OK):
        for name, text in texts.items():
            res = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
            assert res.returncode == 0 and not (res.stdout + res.stderr).strip(), \
                f"promtool check metrics on {name}'s /metrics:\n{res.stdout}{res.stderr}"
    elif os.environ.get("CI"):
        pytest.fail(NO_PROMETHEUS)

    names: set[str] = set()
    labels: dict[str, set[frozenset[str]]] = {}
    for text in texts.values():
        got_names, got_labels = exposed(text)
        names |= got_names
        for family, sets in got_labels.items():
            labels.setdefault(family, set()).update(sets)

    from test_deploy import _selectors  # the PromQL parser the static dashboard tests use

    keda = {s.name for s in _selectors(keda_worker_query())} - PROMETHEUS_SYNTHETIC
    missing = sorted((dashboard_metric_names() | keda) - names)
    assert not missing, f"dashboards or the autoscaler query metrics no service exports: {missing}"

    for metric, info in documented_metrics().items():
        if " when `TUSK_" in info["exported_by"]:
            continue  # exported only with an optional feature on, e.g. the OpenLineage relay
        series = f"{metric}_count" if info["type"] == "histogram" else metric
        assert series in names, f"{metric} is in docs/operations.md but on no service's /metrics"
        for seen in labels.get(metric, ()):
            assert seen == info["labels"], f"{metric}: /metrics has labels {sorted(seen)}, the docs {sorted(info['labels'])}"
