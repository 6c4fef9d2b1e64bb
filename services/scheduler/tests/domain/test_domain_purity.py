"""The domain package does no I/O: it imports no network, database or service client library."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import tusk_scheduler.domain as domain

DOMAIN = Path(domain.__file__).parent
FORBIDDEN = {"asyncpg", "nats", "aiohttp", "minio", "httpx", "requests", "socket", "asyncio", "subprocess"}
FORBIDDEN_COMMON = {
    "tusk_common.bus",
    "tusk_common.db",
    "tusk_common.outbox",
    "tusk_common.store",
    "tusk_common.service",
}


def _imports(file: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(file.read_text(), filename=str(file))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_domain_modules_import_no_io_library():
    offenders = []
    for file in sorted(DOMAIN.rglob("*.py")):
        for name in _imports(file):
            if name.split(".")[0] in FORBIDDEN or any(name.startswith(m) for m in FORBIDDEN_COMMON):
                offenders.append(f"{file.name}: {name}")
    assert offenders == []


def test_every_domain_module_imports_alone_in_a_fresh_interpreter():
    modules = [domain.__name__] + [
        m.name for m in pkgutil.iter_modules([str(DOMAIN)], prefix=f"{domain.__name__}.")
    ]
    script = (
        "import importlib, sys\n"
        "for m in sys.argv[1:]:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(n for n in ('asyncpg', 'nats', 'aiohttp', 'minio') if n in sys.modules)\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
