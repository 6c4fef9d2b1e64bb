"""Settings shared by the services: every knob is a `TUSK_*` env var, read once at start."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class NatsSettings(BaseSettings):
    """`TUSK_NATS_*`: where the bus is and how long to wait for it."""

    model_config = SettingsConfigDict(env_prefix="TUSK_NATS_", extra="ignore", frozen=True)

    url: str = "nats://127.0.0.1:4222"
    request_timeout: float = Field(30.0, gt=0, description="seconds an RPC waits for its reply")
    connect_timeout: float = Field(5.0, gt=0)
    events_max_age_days: float = Field(30.0, gt=0, description="retention of TUSK_EVENTS")
    events_max_bytes: int = Field(10 * 1024**3, gt=0)
    stream_replicas: int = Field(1, ge=1, le=5)


class DatabaseSettings(BaseSettings):
    """`TUSK_DATABASE_*`: the Postgres a service keeps its schema in."""

    model_config = SettingsConfigDict(env_prefix="TUSK_DATABASE_", extra="ignore", frozen=True)

    url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/tusk")
    pool_min: int = Field(1, ge=0)
    pool_max: int = Field(10, ge=1)
    command_timeout: float = Field(60.0, gt=0)


class S3Settings(BaseSettings):
    """`TUSK_S3_*`: the S3 server (MinIO or any S3) the `s3` chunk-store backend writes to."""

    model_config = SettingsConfigDict(env_prefix="TUSK_S3_", extra="ignore", frozen=True)

    endpoint: str = ""
    access_key: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr("")
    bucket: str = "tusk"
    region: str = "us-east-1"
    secure: bool = False
    prefix: str = ""
    max_workers: int = Field(16, ge=1, le=256, description="threads talking to S3 at once")


class StoreSettings(BaseSettings):
    """`TUSK_STORE_*`: the chunk store (where file bytes live)."""

    model_config = SettingsConfigDict(env_prefix="TUSK_STORE_", extra="ignore", frozen=True)

    backend: Literal["fs", "s3"] = "fs"
    path: str = "./.tusk/objects"
    compression: Literal["none", "zstd"] = "none"
    zstd_level: int = Field(3, ge=1, le=19)
    chunk_min: int = Field(128 * 1024, ge=64)
    chunk_avg: int = Field(512 * 1024, ge=256)
    chunk_max: int = Field(2 * 1024 * 1024, ge=1024)
    io_workers: int = Field(8, ge=1, le=128, description="threads hashing and writing chunks")
    pack_small_files: bool = Field(
        True, description="store the chunks of many small files written together as one pack object"
    )


class OpsSettings(BaseSettings):
    """`TUSK_OPS_*` and `TUSK_LOG_*`: the ops port and logging of one service process."""

    model_config = SettingsConfigDict(env_prefix="TUSK_", extra="ignore", frozen=True)

    ops_addr: str = Field("127.0.0.1:0", description="host:port of /metrics, /healthz, /readyz")
    log_level: str = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    shutdown_grace: float = Field(10.0, ge=0)
    metrics_max_age: float = Field(
        2.0, ge=0, description="seconds gauges read from Postgres or JetStream are reused by the next scrape"
    )
    metrics_refresh_timeout: float = Field(5.0, gt=0, description="seconds /metrics waits for those reads")


class ServiceSettings(BaseSettings):
    """What every service reads; a service's own settings class extends this."""

    model_config = SettingsConfigDict(env_prefix="TUSK_", extra="ignore", frozen=True)

    nats: NatsSettings = Field(default_factory=lambda: NatsSettings())
    database: DatabaseSettings = Field(default_factory=lambda: DatabaseSettings())
    store: StoreSettings = Field(default_factory=lambda: StoreSettings())
    s3: S3Settings = Field(default_factory=lambda: S3Settings())
    ops: OpsSettings = Field(default_factory=lambda: OpsSettings())
