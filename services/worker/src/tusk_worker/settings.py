"""`WorkerSettings`: the shared `TUSK_*` settings plus this service's `TUSK_WORKER_*` knobs."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tusk_common.settings import ServiceSettings


class WorkerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TUSK_WORKER_", extra="ignore", frozen=True)

    concurrency: int = Field(default_factory=lambda: max(2, os.cpu_count() or 2), ge=1, le=1024,
                             description="datums this process runs at once")  # fmt: skip
    runner: Literal["auto", "bwrap", "local"] = Field(
        "auto", description="bwrap: /pfs in a private mount namespace; local: plain processes; auto: bwrap if it works"
    )
    scratch_dir: str = Field("", description="where datums' inputs and outputs are staged (default: a temp dir)")
    name: str = Field("", description="this worker's name in datum records (default: host:pid)")
    refresh_interval: float = Field(5.0, gt=0, description="seconds between looks for new pipelines")
    max_deliveries: int = Field(5, ge=1, description="a task delivered more often (its workers died) fails")
    log_flush_interval: float = Field(0.2, gt=0)
    log_batch: int = Field(500, ge=1, le=10_000)
    log_buffer: int = Field(20_000, ge=100, description="lines kept while the scheduler cannot be reached")
    max_line: int = Field(16_384, ge=80, description="longer output lines are cut")
    inline_outputs: int = Field(1_000, ge=0, description="outputs listed in datum.done before they go to the store")
    kill_grace: float = Field(2.0, ge=0, description="seconds between SIGTERM and SIGKILL of a transform")
