"""The in-process `tusk` runner the CLI tests use (a module of its own: `conftest` names collide)."""

from __future__ import annotations

from click.testing import CliRunner, Result

from tusk.cli.main import cli


class Tusk:
    """Runs `tusk ...` in-process against the fake server, like a user at a shell."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: bytes | str | None = None, ok: bool = True) -> Result:
        result = self.runner.invoke(cli, list(args), input=input, env={"TUSK_URL": self.url},
                                    catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result
