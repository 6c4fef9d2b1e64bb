"""`SchedulerSettings`: the shared `TUSK_*` settings plus this service's `TUSK_SCHEDULER_*` knobs."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from tusk_common.settings import ServiceSettings


class SchedulerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TUSK_SCHEDULER_", extra="ignore", frozen=True)

    schema_name: str = Field("scheduler", description="Postgres schema of pipelines, jobs, datums")
    secret_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("secret_key", "TUSK_SECRET_KEY", "TUSK_SCHEDULER_SECRET_KEY"),
        description="key sealing secrets at rest: 32 bytes as base64 or hex (another text is hashed)",
    )
    datum_ack_wait: float = Field(30.0, gt=0, description="seconds a worker may hold a task between heartbeats")
    task_batch: int = Field(500, ge=1, le=10_000, description="datums whose tasks are published per batch")
    max_set_datums: int = Field(
        100, ge=1, le=10_000, description="datums per datum set at most, unless a spec's datum_set_spec.number says"
    )
    max_set_bytes: int = Field(
        256 * 1024, ge=4096, le=768 * 1024, description="encoded size of a datum set message at most (NATS caps 1 MiB)"
    )
    list_page: int = Field(10_000, ge=1, le=10_000, description="files per ListFiles page")
    put_batch: int = Field(5_000, ge=1, le=10_000, description="output changes per PutFiles call")
    inline_files: int = Field(200, ge=0, description="input files carried in a task before they go to the store")
    inline_outputs: int = Field(
        1_000, ge=0, description="output files one datum list/inspect reply carries inline (the rest by reference)"
    )
    sweep_interval: float = Field(2.0, gt=0, description="seconds between looks for stalled pipelines")
    cron_interval: float = Field(1.0, gt=0, description="seconds between looks for due cron ticks")
    datum_batch: int = Field(128, ge=1, le=1024, description="datum results settled per fetch at most")
    wait_poll_interval: float = Field(0.25, gt=0, description="how often waits re-check without NOTIFY")
    rpc_timeout: float = Field(30.0, gt=0, description="seconds a versioning call may take")
