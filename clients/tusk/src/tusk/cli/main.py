"""The `tusk` command's root: global options, the verb groups, `tusk version`, exit codes.

Exit codes: 0 success, 1 an error (one line on stderr: `tusk: error: ...`), 2 a usage error, 130 Ctrl-C.
A closed stdout pipe (`tusk get file ... | head`) ends quietly with 1, click's convention.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from tusk import __version__
from tusk.cli import groups
from tusk.cli.output import emit_json, key_values
from tusk.cli.state import CliState, json_option, pass_state
from tusk.transport import DEFAULT_URL
from tusk_common.errors import TuskError


@click.group(cls=groups.TuskGroup, context_settings={"help_option_names": ["-h", "--help"]},
             no_args_is_help=True)
@click.option("--url", envvar="TUSK_URL", default=DEFAULT_URL, show_default=True, metavar="URL",
              help="Tusk server (env TUSK_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print list/inspect results as JSON.")
@click.version_option(__version__, "--version", prog_name="tusk", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, url: str, as_json: bool) -> None:
    """Tusk: versioned data and pipelines.

    Grammar (pachctl's): tusk VERB NOUN ARGS, with files addressed as REPO@REF:/PATH, where REF is a
    branch, a commit id, or BRANCH^N (the N-th ancestor).
    """
    state = ctx.ensure_object(CliState)
    state.url = url
    state.json = as_json
    ctx.call_on_close(state.close)


for _verb in groups.VERBS:
    cli.add_command(_verb)

# Importing a command module registers its nouns on the verb groups (pipelines, lineage and the stack
# are plugins: see `groups.PLUGIN_MODULES`).
from tusk.cli import (  # noqa: E402,F401
    branch_commands,
    commit_commands,
    file_commands,
    repo_commands,
)


@cli.command("version")
@json_option
@pass_state
def version(state: CliState, as_json: bool) -> None:
    """Print the client's version and, if it is reachable, the server's."""
    server: dict[str, object] | None = None
    problem = None
    try:
        server = state.client.version()
    except TuskError as exc:
        problem = exc.message
    if state.want_json(as_json):
        emit_json({"client": __version__, "server": server, "url": state.client.url})
        return
    server_text = f"{server.get('version', '?')} (api {server.get('api', '?')})" if server else None
    click.echo(key_values([("client", __version__), ("server", server_text or f"unreachable ({problem})"),
                           ("url", state.client.url)]))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (for tests and `main`)."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="tusk",
                          standalone_mode=False)
    except click.exceptions.Abort:
        return 130  # click turns Ctrl-C (KeyboardInterrupt) into Abort
    except KeyboardInterrupt:
        click.echo("", err=True)
        return 130
    except click.UsageError as exc:
        # One line, like every other error; `--help` shows the usage for whoever wants it.
        command = exc.ctx.command_path if exc.ctx is not None else "tusk"
        click.echo(f"tusk: error: {exc.format_message()} (see '{command} --help')", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except BrokenPipeError:  # click handles EPIPE itself; this covers a pipe closed outside its reach
        _silence_stdout()
        return 1
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())


def _silence_stdout() -> None:
    # Python would complain again when it flushes stdout at exit; point it at /dev/null instead.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
