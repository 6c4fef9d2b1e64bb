"""`tusk-worker` / `python -m tusk_worker`: run a worker."""

from __future__ import annotations

from tusk_common.service import main as run_main
from tusk_worker.app import NAME, build
from tusk_worker.settings import WorkerSettings


def main() -> None:
    run_main(NAME, WorkerSettings, build)


if __name__ == "__main__":
    main()
