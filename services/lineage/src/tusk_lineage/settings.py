"""`LineageSettings`: the shared `TUSK_*` settings plus this service's `TUSK_LINEAGE_*` knobs."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from tusk_common.settings import ServiceSettings


class LineageSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TUSK_LINEAGE_", extra="ignore", frozen=True)

    schema_name: str = Field("lineage", description="Postgres schema of the provenance graph")
    durable: str = Field("tusk-lineage", description="JetStream durable consumer of every event")
    consume_batch: int = Field(64, ge=1, le=1024, description="events fetched at once")
    max_ack_pending: int = Field(256, ge=1, description="events in flight per consumer")
    ack_wait: float = Field(30.0, gt=0, description="seconds an event may be in flight before it is redelivered")
    consume_max_deliver: int = Field(2000, ge=1, description="deliveries of one event before it is given up")
    consume_retry_delay: float = Field(1.0, gt=0, description="seconds before a failed event is redelivered")
    parent_wait: float | None = Field(
        None, ge=0,
        description="seconds after a commit's event that it waits for its parent's events (default: twice ack_wait)",
    )
    rpc_timeout: float = Field(30.0, gt=0, description="seconds a versioning or scheduler call may take")
    lookups: int = Field(16, ge=1, le=256, description="versioning/scheduler calls at once per event")
    list_page: int = Field(10_000, ge=1, le=10_000, description="files or commits per listing page")
    listing_cache: int = Field(4096, ge=0, description="datum input listings kept (commits are immutable)")
    openlineage_url: str | None = Field(
        None, validation_alias=AliasChoices("openlineage_url", "TUSK_OPENLINEAGE_URL", "TUSK_LINEAGE_OPENLINEAGE_URL"),
        description="base URL of an OpenLineage HTTP endpoint (e.g. Marquez); unset: no export",
    )
    openlineage_endpoint: str = Field("api/v1/lineage", description="path under the URL events are POSTed to")
    openlineage_api_key: str | None = Field(
        None, validation_alias=AliasChoices("openlineage_api_key", "TUSK_OPENLINEAGE_API_KEY"),
        description="sent as `Authorization: Bearer` when set",
    )
    openlineage_namespace: str = Field("tusk", description="namespace of jobs and datasets")
    openlineage_timeout: float = Field(5.0, gt=0, description="seconds one POST may take")
    openlineage_retries: int = Field(8, ge=0, description="retries of one event before it is dropped")
    openlineage_backoff: float = Field(0.5, gt=0, description="first retry delay (doubles, up to 30 s)")
    openlineage_max_queue: int = Field(10_000, ge=1, description="events waiting at most; the oldest go past it")
    openlineage_max_files: int = Field(1000, ge=0, description="output files listed in one tusk_files facet")
