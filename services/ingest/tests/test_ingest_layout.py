"""Structure guards: every module imports on its own (no cycles), no module imports another service."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import tusk_ingest

SRC = Path(tusk_ingest.__file__).parent


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages([str(SRC)], prefix="tusk_ingest."))


_IMPORT_EACH_FIRST = """
import importlib, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "tusk_ingest" or m.startswith("tusk_ingest.")]:
        del sys.modules[loaded]
    importlib.import_module(name)  # first in its process: a cycle through it fails here
"""


def test_every_module_imports_first_without_a_cycle() -> None:
    done = subprocess.run([sys.executable, "-c", _IMPORT_EACH_FIRST, *_modules()], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def test_ingest_never_imports_another_service() -> None:
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert "tusk_versioning" not in text, path


def test_modules_stay_small() -> None:
    for path in SRC.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 500, path  # STYLE: split above ~500
