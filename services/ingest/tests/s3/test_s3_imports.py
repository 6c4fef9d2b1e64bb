"""Every module of the gateway imports on its own in a fresh interpreter (no import cycles)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import tusk_ingest.s3

MODULES = sorted(m.name for m in pkgutil.iter_modules(tusk_ingest.s3.__path__, "tusk_ingest.s3."))


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module: str) -> None:
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, timeout=60)
