"""`tusk-scheduler` / `python -m tusk_scheduler`: run the scheduler service."""

from __future__ import annotations

from tusk_common.service import main as run_main
from tusk_scheduler.app import NAME, build
from tusk_scheduler.settings import SchedulerSettings


def main() -> None:
    run_main(NAME, SchedulerSettings, build)


if __name__ == "__main__":
    main()
