"""DVC without git (`dvc init --no-scm`): `dvc add` hashes a file or directory into `.dvc/cache`."""

from __future__ import annotations

from pathlib import Path

from bench.references.process import run
from bench.workdir import du

_ENV = {"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1"}


class DvcRepo:
    def __init__(self, dvc: str, root: Path) -> None:
        self.dvc = dvc
        self.root = root

    def init(self) -> DvcRepo:
        self.root.mkdir(parents=True, exist_ok=True)
        run([self.dvc, "init", "--no-scm", "-q"], self.root, _ENV)
        return self

    def add(self, target: str) -> float:
        """Seconds `dvc add target` takes (`target` relative to the repo)."""
        return run([self.dvc, "add", "-q", target], self.root, _ENV)

    def cache_size(self) -> int:
        return du(self.root / ".dvc" / "cache")
