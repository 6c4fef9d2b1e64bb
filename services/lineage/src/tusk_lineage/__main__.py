"""`tusk-lineage` / `python -m tusk_lineage`: run the lineage service; `tusk-lineage rebuild` rebuilds the graph."""

from __future__ import annotations

import sys

from tusk_common.service import main as run_main
from tusk_lineage.app import NAME, build, rebuild_main
from tusk_lineage.settings import LineageSettings


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["rebuild"]:
        sys.exit(rebuild_main(args[1:]))
    if args and args[0] not in ("serve",):
        print("usage: tusk-lineage [serve | rebuild]", file=sys.stderr)
        sys.exit(2)
    run_main(NAME, LineageSettings, build)


if __name__ == "__main__":
    main()
