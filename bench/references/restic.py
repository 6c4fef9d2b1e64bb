"""restic: a local repository; `restic backup` of a tree, the second backup finding its parent snapshot."""

from __future__ import annotations

from pathlib import Path

from bench.references.process import run
from bench.workdir import du

_PASSWORD = "tusk-bench"


class ResticRepo:
    def __init__(self, restic: str, repo: Path, cache: Path) -> None:
        self.restic = restic
        self.repo = repo
        self._env = {"RESTIC_PASSWORD": _PASSWORD, "RESTIC_REPOSITORY": str(repo), "RESTIC_CACHE_DIR": str(cache)}

    def init(self) -> ResticRepo:
        self.repo.parent.mkdir(parents=True, exist_ok=True)
        run([self.restic, "init", "-q"], self.repo.parent, self._env)
        return self

    def backup(self, tree: Path) -> float:
        """Seconds one `restic backup tree` takes."""
        return run([self.restic, "backup", "-q", str(tree)], tree.parent, self._env)

    def size(self) -> int:
        return du(self.repo)
