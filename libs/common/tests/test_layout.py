"""Structural guards: every module imports alone, and services never import each other."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = {
    "tusk_common": ROOT / "libs/common/src/tusk_common",
    "tusk_versioning": ROOT / "services/versioning/src/tusk_versioning",
    "tusk_ingest": ROOT / "services/ingest/src/tusk_ingest",
    "tusk_scheduler": ROOT / "services/scheduler/src/tusk_scheduler",
    "tusk_worker": ROOT / "services/worker/src/tusk_worker",
    "tusk_lineage": ROOT / "services/lineage/src/tusk_lineage",
    "tusk": ROOT / "clients/tusk/src/tusk",
}
SERVICES = [name for name in PACKAGES if name not in ("tusk_common", "tusk")]


def _modules(name: str, path: Path) -> list[str]:
    found = [name]
    for info in pkgutil.walk_packages([str(path)], prefix=f"{name}."):
        if ".tests" not in info.name:
            found.append(info.name)
    return found


def _all_modules() -> list[str]:
    return [m for name, path in PACKAGES.items() if path.exists() for m in _modules(name, path)]


def test_every_module_imports_in_a_fresh_interpreter():
    """Catches import cycles and import-time side effects (clients built at import time)."""
    modules = _all_modules()
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    res = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_never_imports_another_service(service):
    path = PACKAGES[service]
    if not path.exists():
        pytest.skip(f"{service} is not in this tree")
    others = {s for s in SERVICES if s != service} | {"tusk"}
    offenders = []
    for file in path.rglob("*.py"):
        tree = ast.parse(file.read_text(), filename=str(file))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                if n.split(".")[0] in others:
                    offenders.append(f"{file.relative_to(ROOT)}: {n}")
    assert offenders == []


def test_common_library_imports_no_service():
    offenders = []
    for file in PACKAGES["tusk_common"].rglob("*.py"):
        tree = ast.parse(file.read_text(), filename=str(file))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in (*SERVICES, "tusk"):
                offenders.append(str(file))
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] in (*SERVICES, "tusk") for a in node.names):
                offenders.append(str(file))
    assert offenders == []
