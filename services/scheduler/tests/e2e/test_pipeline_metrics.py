"""The scheduler's and the worker's metrics, scraped from their ops ports while pipelines run: jobs and
datums by state, the datum queue, consumer lag, job durations, datum counts, times and bytes, slots."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from pipeline_stack import Stack, pfs, pipeline  # type: ignore[import-not-found]
from prometheus_client.parser import text_string_to_metric_families

from tusk_common.ops import OpsServer
from tusk_common.service import ServiceContext, running_service
from tusk_common.settings import ServiceSettings
from tusk_scheduler.app import build as build_scheduler
from tusk_worker.app import build as build_worker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def fresh(settings: ServiceSettings) -> Any:
    """The same settings with gauges read again on every scrape."""
    return settings.model_copy(update={"ops": settings.ops.model_copy(update={"metrics_max_age": 0.0})})


@contextlib.asynccontextmanager
async def serving(name: str, settings: ServiceSettings, build: Any) -> AsyncIterator[OpsServer]:
    async def run(ctx: ServiceContext) -> None:
        await build(ctx)

    async with running_service(name, fresh(settings), run) as (_ctx, ops):
        yield ops


async def scrape(ops: OpsServer) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{ops.port}/metrics") as r:
        assert r.status == 200
        text = await r.text()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_scheduler_reports_jobs_datums_and_the_queue_a_worker_then_drains(bare: Stack):
    async with serving("scheduler", bare.scheduler_settings(), build_scheduler) as scheduler:
        await bare.repo("in")
        await bare.put("in", {"/a": "1", "/b": "22", "/c": "333"})
        job = (await bare.create(pipeline("copy", pfs("in", "/*"), ["sh", "-c", "cp -r /pfs/in/. /pfs/out/"]))).job

        async def queued() -> Samples | None:
            s = await scrape(scheduler)
            return s if value(s, "tusk_datum_queue_depth", pipeline="copy") == 3 else None

        s = await bare.eventually(queued)  # no worker yet: the three tasks wait in TUSK_DATUMS
        assert value(s, "tusk_jobs", pipeline="copy", state="running") == 1
        assert value(s, "tusk_jobs", pipeline="copy", state="success") == 0
        assert value(s, "tusk_datums", pipeline="copy", state="pending") == 3
        assert value(s, "tusk_consumer_lag", stream="TUSK_DATUMS", consumer="tusk-worker-copy") == 3
        assert value(s, "tusk_consumer_lag", stream="TUSK_EVENTS", consumer="tusk-scheduler-commits") == 0
        assert value(s, "tusk_outbox_backlog") is not None

        async with serving("worker", bare.worker_settings(), build_worker) as worker:
            done = await bare.wait_job("copy", job)
            assert done.state == "success"
            s = await scrape(scheduler)
            assert value(s, "tusk_jobs", pipeline="copy", state="success") == 1
            assert value(s, "tusk_jobs", pipeline="copy", state="running") == 0
            assert value(s, "tusk_datums", pipeline="copy", state="processed") == 3
            assert value(s, "tusk_datums", pipeline="copy", state="pending") == 0
            assert value(s, "tusk_datum_queue_depth", pipeline="copy") == 0
            assert value(s, "tusk_job_seconds_count", pipeline="copy", state="success") == 1

            w = await scrape(worker)
            assert value(w, "tusk_worker_datum_count_total", pipeline="copy", state="processed") == 3
            assert value(w, "tusk_worker_datum_proc_seconds_count", pipeline="copy") == 3
            assert value(w, "tusk_worker_datum_download_seconds_count", pipeline="copy") == 3
            assert value(w, "tusk_worker_datum_upload_seconds_count", pipeline="copy") == 3
            assert value(w, "tusk_worker_datum_download_bytes_total", pipeline="copy") == 6
            assert value(w, "tusk_worker_datum_upload_bytes_total", pipeline="copy") == 6
            assert value(w, "tusk_worker_slots") == bare.worker_settings().concurrency
            assert value(w, "tusk_worker_busy") == 0

            bad = (await bare.create(pipeline("bad", pfs("in", "/"), ["sh", "-c", "exit 3"]))).job
            assert (await bare.wait_job("bad", bad)).state == "failure"
            w = await scrape(worker)
            assert value(w, "tusk_worker_datum_count_total", pipeline="bad", state="failed") == 1
            s = await scrape(scheduler)
            assert value(s, "tusk_jobs", pipeline="bad", state="failure") == 1
            assert value(s, "tusk_datums", pipeline="bad", state="failed") == 1
