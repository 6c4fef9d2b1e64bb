"""`tusk-versioning` / `python -m tusk_versioning`: run the versioning service."""

from __future__ import annotations

from tusk_common.service import main as run_main
from tusk_versioning.app import NAME, build
from tusk_versioning.settings import VersioningSettings


def main() -> None:
    run_main(NAME, VersioningSettings, build)


if __name__ == "__main__":
    main()
