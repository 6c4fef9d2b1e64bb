"""What the use cases get from the composition root: pool, bus, clients, settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from tusk_common.bus import Bus
from tusk_common.store import ChunkStore
from tusk_scheduler.adapters.secretbox import SecretBox
from tusk_scheduler.adapters.tasks import TaskQueue
from tusk_scheduler.adapters.versioning import Versioning
from tusk_scheduler.metrics import SchedulerMetrics
from tusk_scheduler.settings import SchedulerSettings

SOURCE = "tusk-scheduler"


@dataclass
class Deps:
    settings: SchedulerSettings
    pool: asyncpg.Pool
    bus: Bus
    versioning: Versioning
    tasks: TaskQueue
    store: ChunkStore
    box: SecretBox
    # Asks the pipeline's driver to look at it again (set by the composition root).
    kick: Callable[[str], None] = field(default=lambda _name: None)
    source: str = SOURCE
    metrics: SchedulerMetrics | None = None
