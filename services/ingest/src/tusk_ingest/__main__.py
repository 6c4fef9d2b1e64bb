"""`tusk-ingest` / `python -m tusk_ingest`: run the public edge until SIGTERM."""

from __future__ import annotations

from tusk_common.service import main
from tusk_ingest.app import build
from tusk_ingest.settings import IngestSettings


def run() -> None:
    main("ingest", IngestSettings, build)


if __name__ == "__main__":
    run()
