"""What every use case needs, built once by the composition root (`app.build`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from tusk_versioning.adapters.waiters import CommitWaiters
from tusk_versioning.priority import WritesFirst
from tusk_versioning.settings import VersioningSettings
from tusk_versioning.views import Views

SOURCE = "tusk/versioning"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    views: Views
    waiters: CommitWaiters
    settings: VersioningSettings
    source: str = SOURCE
    priority: WritesFirst = field(default_factory=WritesFirst)  # bulk reads step aside for writes
