"""Click groups of the `tusk` command, and the lazy loading of commands other packages add.

Commands that need heavy imports (the embedded stack behind `tusk up`) live in plugin modules that call
`cli.add_command(...)` (or `create.add_command(...)` on a verb group) when imported. They are imported only
when a name is not found among the built-in commands, or when help lists every command, so
`tusk list repo` never pays for them (nor `tusk put file` for the scheduler's wire models).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from tusk_common.errors import TuskError

PLUGIN_MODULES: tuple[str, ...] = (
    "tusk.cli.stack_commands", "tusk.cli.lineage_commands", "tusk.cli.pipeline_commands",
)

_state: dict[str, Any] = {"loaded": False, "failures": {}}


def load_plugins() -> bool:
    """Import the plugin modules once; True the first time (when new commands may have appeared)."""
    if _state["loaded"]:
        return False
    _state["loaded"] = True
    for name in PLUGIN_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if exc.name != name:  # the module exists but a dependency of it is missing
                _state["failures"][name] = exc
    return True


def plugin_failures() -> dict[str, ImportError]:
    return dict(_state["failures"])


class CliError(click.ClickException):
    """A failure reported as one line, `tusk: error: ...`, with exit code 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"tusk: error: {self.format_message()}", err=True)


class TuskGroup(click.Group):
    """A group that finds plugin commands lazily and reports Tusk errors as one line."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and load_plugins():
            command = super().get_command(ctx, cmd_name)
        if command is None:
            for name, exc in plugin_failures().items():
                click.echo(f"tusk: warning: commands from {name} could not be loaded: {exc}", err=True)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_plugins()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TuskError as exc:
            raise CliError(exc.message) from exc
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise CliError(describe_os_error(exc)) from exc


def describe_os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{reason}: {exc.filename}" if exc.filename else reason


def verb_group(name: str, help_text: str) -> TuskGroup:
    return TuskGroup(name=name, help=help_text, no_args_is_help=True)


# The verbs of `tusk VERB NOUN`; other packages add nouns with e.g. `create.add_command(cmd, "pipeline")`.
create = verb_group("create", "Create a repo or a branch.")
list_ = verb_group("list", "List repos, branches, commits or files.")
inspect = verb_group("inspect", "Show one repo, branch, commit or file in detail.")
delete = verb_group("delete", "Delete a repo, branch, commit or file.")
start = verb_group("start", "Start a commit.")
finish = verb_group("finish", "Finish a commit.")
wait = verb_group("wait", "Wait for a commit to finish.")
squash = verb_group("squash", "Squash a commit into its children.")
put = verb_group("put", "Upload files.")
get = verb_group("get", "Download files.")
glob = verb_group("glob", "Find files by pattern.")
diff = verb_group("diff", "Show what changed between two commits.")
copy = verb_group("copy", "Copy files without moving bytes.")

VERBS: tuple[TuskGroup, ...] = (
    create, list_, inspect, delete, start, finish, wait, squash, put, get, glob, diff, copy,
)
