"""The reference tools, installed by the bench itself, idempotently: DVC into its own venv, restic and
git-lfs from apt. A tool that cannot be installed is `Unavailable`, and its rows say why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.workdir import Workdir

_PIP_TIMEOUT = 1200
_APT_TIMEOUT = 900


class Unavailable(Exception):
    """A tool or the stack cannot be used in this run; the message is shown in the row's note."""


class Toolbox:
    def __init__(self, work: Workdir, log: Callable[[str], None]) -> None:
        self._work = work
        self._log = log
        self._found: dict[str, str | Unavailable] = {}
        self._apt_tried = False

    def dvc(self) -> str:
        return self._get("dvc", self._install_dvc)

    def restic(self) -> str:
        return self._get("restic", lambda: self._apt_binary("restic", "restic"))

    def git_lfs(self) -> str:
        return self._get("git-lfs", lambda: self._apt_binary("git-lfs", "git-lfs"))

    def versions(self) -> dict[str, str]:
        """Version lines of the tools found so far (for results.json)."""
        out = {}
        for name, found in self._found.items():
            if isinstance(found, Unavailable):
                out[name] = f"unavailable: {found}"
                continue
            res = subprocess.run([found, "version"], capture_output=True, text=True)
            out[name] = (res.stdout or res.stderr).strip().splitlines()[0] if res.returncode == 0 else "?"
        return out

    def _get(self, name: str, install: Callable[[], str]) -> str:
        if name not in self._found:
            try:
                self._found[name] = install()
            except Unavailable as e:
                self._log(f"{name}: unavailable: {e}")
                self._found[name] = e
        found = self._found[name]
        if isinstance(found, Unavailable):
            raise found
        return found

    def _install_dvc(self) -> str:
        venv = self._work.root / "venv-dvc"
        dvc = venv / "bin" / "dvc"
        if dvc.exists() and _works([str(dvc), "version"]):
            return str(dvc)
        self._log(f"installing DVC into {venv} (pip install dvc; takes a minute or two)")
        try:
            if not (venv / "bin" / "python").exists():
                _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
            _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                 timeout=_PIP_TIMEOUT)
            _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "dvc"], timeout=_PIP_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as e:
            raise Unavailable(f"pip install dvc failed: {_short(e)}") from e
        if not _works([str(dvc), "version"]):
            raise Unavailable("dvc installed but `dvc version` fails")
        return str(dvc)

    def _apt_binary(self, package: str, binary: str) -> str:
        found = shutil.which(binary)
        if found:
            return found
        self._apt_install()
        found = shutil.which(binary)
        if not found:
            raise Unavailable(f"apt-get install {package} did not provide `{binary}`")
        return found

    def _apt_install(self) -> None:
        """One `apt-get install` of every apt reference (then `apt-get update` and again if it fails)."""
        if self._apt_tried:
            return
        self._apt_tried = True
        if shutil.which("apt-get") is None:
            raise Unavailable("no apt-get on this machine")
        if os.geteuid() != 0:
            raise Unavailable("apt-get needs root")
        install = ["apt-get", "install", "-y", "--no-install-recommends", "restic", "git-lfs"]
        self._log("installing restic and git-lfs (apt-get install)")
        try:
            _run(install, timeout=_APT_TIMEOUT)
            return
        except (OSError, subprocess.SubprocessError):
            pass
        try:
            _run(["apt-get", "update"], timeout=_APT_TIMEOUT)
            _run(install, timeout=_APT_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as e:
            raise Unavailable(f"apt-get install failed: {_short(e)}") from e


def _run(args: list[str], *, timeout: float, cwd: Path | None = None) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def _works(args: list[str]) -> bool:
    try:
        return subprocess.run(args, capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _short(e: BaseException) -> str:
    if isinstance(e, subprocess.CalledProcessError):
        tail = (e.stderr or e.stdout or "").strip().splitlines()[-1:]
        return f"exit {e.returncode}" + (f": {tail[0][:160]}" if tail else "")
    return str(e)[:200]
