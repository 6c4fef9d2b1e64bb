"""ARCHITECTURE.md's module map is the generated one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_module_map_in_architecture_md_is_current():
    res = subprocess.run([sys.executable, str(ROOT / "scripts/module_map.py"), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
