"""`IngestSettings`: every knob of the public edge, read once from `TUSK_*` env vars."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from tusk_common.settings import ServiceSettings

KIB = 1024
MIB = 1024 * KIB
TIB = 1024**4


class IngestSettings(ServiceSettings):
    """Settings of the ingest service (`TUSK_HTTP_ADDR`, `TUSK_MAX_UPLOAD_BYTES`, ...)."""

    model_config = SettingsConfigDict(env_prefix="TUSK_", extra="ignore", frozen=True)

    http_addr: str = Field("127.0.0.1:7080", description="host:port of the public REST API (port 0: any)")
    max_upload_bytes: int = Field(TIB, gt=0, description="largest file one upload may create (413 above)")
    batch_rpc_size: int = Field(1000, ge=1, le=10_000, description="file changes per PutFiles RPC")
    max_json_bytes: int = Field(1 * MIB, ge=KIB, description="largest JSON request body")
    max_batch_files: int = Field(1_000_000, ge=1, description="most files in one multipart upload")
    upload_block_bytes: int = Field(1 * MIB, ge=4 * KIB, description="bytes read from a request at a time")
    small_file_bytes: int = Field(
        1 * MIB, ge=0, description="multipart parts up to this size are buffered and stored concurrently"
    )
    upload_concurrency: int = Field(16, ge=1, le=256, description="small multipart parts stored at once")
    max_wait_seconds: float = Field(3600.0, gt=0, le=86_400, description="longest commit wait")
    http_keepalive_timeout: float = Field(75.0, gt=0)
    s3_gateway_access_key: SecretStr | None = Field(
        None, description="access key of the S3 gateway (TUSK_S3_* configure the object-store backend)"
    )
    s3_gateway_secret_key: SecretStr | None = Field(None, description="secret key of the S3 gateway")
    s3_gateway_allow_anonymous: bool = Field(
        False, description="without gateway keys: serve unsigned S3 requests (else every request is refused)"
    )
    s3_gateway_region: str = Field("us-east-1", description="the region the S3 gateway reports")
    s3_gateway_base_domain: str | None = Field(
        None, description="virtual-host-style addressing: BUCKET.<base domain> names a bucket"
    )
    s3_gateway_upload_expiry: timedelta = Field(
        timedelta(days=7), description="multipart uploads older than this are gone (seconds or ISO 8601)"
    )
    s3_gateway_group_scan_seconds: float = Field(
        10.0, gt=0, description="how often idle commit groups of other replicas are looked for"
    )
    shutdown_timeout: float = Field(10.0, ge=0, description="seconds open requests get to finish on stop")

    @model_validator(mode="after")
    def _check_gateway_keys(self) -> IngestSettings:
        if (self.s3_gateway_access_key is None) != (self.s3_gateway_secret_key is None):
            raise ValueError("set both TUSK_S3_GATEWAY_ACCESS_KEY and TUSK_S3_GATEWAY_SECRET_KEY, or neither")
        return self

    @field_validator("http_addr")
    @classmethod
    def _check_addr(cls, value: str) -> str:
        _host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"http_addr {value!r} must be host:port")
        return value

    @property
    def http_host(self) -> str:
        return self.http_addr.rpartition(":")[0].strip("[]") or "127.0.0.1"

    @property
    def http_port(self) -> int:
        return int(self.http_addr.rpartition(":")[2])
