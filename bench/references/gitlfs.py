"""git-lfs: a git repo tracking `*.bin` in LFS; `git add` + `git commit` store each version in `.git/lfs`."""

from __future__ import annotations

from pathlib import Path

from bench.references.process import run
from bench.workdir import du

_GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "init.defaultBranch=main"]


class LfsRepo:
    def __init__(self, root: Path) -> None:
        self.root = root

    def init(self) -> LfsRepo:
        self.root.mkdir(parents=True, exist_ok=True)
        run([*_GIT, "init", "-q"], self.root)
        run([*_GIT, "lfs", "install", "--local"], self.root)
        run([*_GIT, "lfs", "track", "*.bin"], self.root)
        run([*_GIT, "add", ".gitattributes"], self.root)
        run([*_GIT, "commit", "-q", "-m", "track *.bin"], self.root)
        return self

    def commit(self, path: str, message: str) -> float:
        """Seconds `git add path && git commit` take."""
        return run([*_GIT, "add", path], self.root) + run([*_GIT, "commit", "-q", "-m", message], self.root)

    def lfs_size(self) -> int:
        return du(self.root / ".git" / "lfs")
