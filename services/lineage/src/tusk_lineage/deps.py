"""What every use case needs, built once by the composition root (`app.build`)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from tusk_lineage.adapters.sources import Sources
from tusk_lineage.domain.openlineage import Emitter
from tusk_lineage.settings import LineageSettings

SOURCE = "tusk/lineage"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    sources: Sources
    settings: LineageSettings
    emitter: Emitter | None = None  # set when OpenLineage export is on
    source: str = SOURCE
