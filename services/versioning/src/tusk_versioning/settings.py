"""`VersioningSettings`: the shared `TUSK_*` settings plus this service's own `TUSK_VERSIONING_*` knobs."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tusk_common.settings import ServiceSettings


class VersioningSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TUSK_VERSIONING_", extra="ignore", frozen=True)

    schema_name: str = Field("versioning", description="Postgres schema of the catalog")
    node_cache_bytes: int = Field(
        64 * 1024**2, ge=0, description="in-process cache of tree nodes, by encoded size (memory is ~3x)"
    )
    open_views: int = Field(64, ge=1, description="open commits whose staged view is kept in memory")
    wait_poll_interval: float = Field(2.0, gt=0, description="WaitCommit re-checks this often without NOTIFY")
    write_retries: int = Field(5, ge=1, description="attempts when a branch head moves during a write")
