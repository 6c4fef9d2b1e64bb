"""`make lint` as part of `make test`: ruff, and mypy on every package (a type error fails the build).

Wire models ignore unknown fields at runtime (forward compatibility), so mypy's pydantic plugin is what
catches a misspelled keyword when a service builds one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["services/versioning", "services/ingest", "services/worker", "services/scheduler", "services/lineage",
            "clients/tusk"]  # fmt: skip


def _run(*args: str) -> None:
    res = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]


def test_ruff_is_clean():
    _run("ruff", "check", ".")


def test_mypy_is_clean_on_every_package(tmp_path: Path):
    cache = str(tmp_path / "mypy-cache")
    _run("mypy", "--cache-dir", cache, "-p", "tusk_common")
    _run("mypy", "--cache-dir", cache, *(f"{p}/src" for p in PACKAGES))


def test_the_list_of_packages_is_the_makefiles():
    makefile = (ROOT / "Makefile").read_text()
    pkgs = next(line for line in makefile.splitlines() if line.startswith("PKGS :="))
    assert pkgs.split(":=", 1)[1].split() == ["libs/common", *PACKAGES]
