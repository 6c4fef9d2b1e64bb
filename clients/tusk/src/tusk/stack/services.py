"""The Tusk services the stack runs: adding one is one line in `SERVICES`."""

from __future__ import annotations

import importlib
import importlib.util
import runpy
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its name (`tusk serve NAME`, log file, status row) and the module `python -m` runs."""

    name: str
    module: str
    public_http: bool = False  # gets TUSK_HTTP_ADDR: the one public port

    def installed(self) -> bool:
        """Whether `python -m <module>` can run here."""
        try:
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ModuleNotFoundError:
            return False


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("versioning", "tusk_versioning"),
    ServiceSpec("ingest", "tusk_ingest", public_http=True),
    ServiceSpec("scheduler", "tusk_scheduler"),
    ServiceSpec("worker", "tusk_worker"),
    ServiceSpec("lineage", "tusk_lineage"),
)


def service_spec(name: str) -> ServiceSpec | None:
    return next((s for s in SERVICES if s.name == name), None)


def service_entry(spec: ServiceSpec) -> Callable[[], object]:
    """What `tusk serve` calls: the service's `main()` (in `<module>.app` or `<module>`), else its
    `__main__` run exactly as `python -m <module>` would run it."""
    for where in (f"{spec.module}.app", spec.module):
        try:
            found = importlib.util.find_spec(where)
        except ModuleNotFoundError:
            found = None
        if found is None:
            continue
        main = getattr(importlib.import_module(where), "main", None)
        if callable(main):
            return main
    # `__main__` may call main() at import time, so it is run, never imported.
    return lambda: runpy.run_module(spec.module, run_name="__main__", alter_sys=True)
