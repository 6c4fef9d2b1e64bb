"""`tusk up`, `tusk status`, `tusk serve`, `tusk down`: the embedded stack (see docs/stack.md).

A plugin module of the `tusk` command (loaded lazily by `tusk.cli.groups`): importing it adds the commands
to the root group. `python -m tusk.stack` runs the same commands without the rest of the CLI.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tusk.cli.groups import CliError
from tusk.cli.state import CliState, json_option

DATA_DIR_HELP = "Data directory of the stack (env TUSK_DATA_DIR)."
data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".tusk"),
    envvar="TUSK_DATA_DIR", show_default=True, help=DATA_DIR_HELP,
)


@click.command("up")
@data_dir_option
@click.option("--http-addr", default="127.0.0.1:7080", show_default=True, envvar="TUSK_HTTP_ADDR",
              metavar="HOST:PORT", help="The public port: REST API, uploads, S3 (env TUSK_HTTP_ADDR).")
@click.option("--detach", "-d", is_flag=True, help="Run in the background; return once ready.")
@click.pass_context
def up(ctx: click.Context, data_dir: Path, http_addr: str, detach: bool) -> None:
    """Start NATS, Postgres and every Tusk service on this machine.

    Data lives in --data-dir; a second `tusk up` on it finds everything again. TUSK_NATS_URL,
    TUSK_DATABASE_URL and TUSK_S3_* / TUSK_STORE_BACKEND=s3 in the environment make it use those
    servers instead of starting its own. Ctrl-C (or `tusk down`) stops everything.
    """
    from tusk.stack.config import StackConfig
    from tusk.stack.runner import StackRefused, up_detached, up_foreground

    try:
        config = StackConfig.create(data_dir, http_addr)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--http-addr") from None
    try:
        code = up_detached(config) if detach else up_foreground(config)
    except StackRefused as exc:
        raise CliError(str(exc)) from None
    ctx.exit(code)


@click.command("status")
@data_dir_option
@json_option
@click.pass_context
def status(ctx: click.Context, data_dir: Path, as_json: bool) -> None:
    """Show every component of the stack: pid, alive, addresses, health.

    Exit code 0 when everything is healthy, 1 when something is not, 3 when the stack is not running.
    """
    from tusk.stack import status as stack_status

    report = stack_status.collect(data_dir)
    state = ctx.find_object(CliState)
    if as_json or (state is not None and state.json):
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(stack_status.render(report))
    ctx.exit(stack_status.exit_code(report))


@click.command("down")
@data_dir_option
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for a clean stop.")
@click.pass_context
def down(ctx: click.Context, data_dir: Path, timeout: float) -> None:
    """Stop the stack running on --data-dir (started with or without --detach)."""
    from tusk.stack.runner import StackRefused
    from tusk.stack.runner import down as stack_down

    try:
        code = stack_down(data_dir.expanduser().resolve(), timeout=timeout)
    except StackRefused as exc:
        raise CliError(str(exc)) from None
    ctx.exit(code)


@click.command("serve", context_settings={"ignore_unknown_options": True})
@click.argument("service")
def serve(service: str) -> None:
    """Run one service (versioning, ingest, ...) in the foreground, configured from TUSK_* env vars.

    This is how docker-compose and Kubernetes run Tusk: one service per container.
    """
    from tusk.stack.services import SERVICES, service_entry, service_spec

    spec = service_spec(service)
    if spec is None:
        names = ", ".join(s.name for s in SERVICES)
        raise CliError(f"unknown service {service!r}; one of: {names}")
    if not spec.installed():
        raise CliError(f"service {service!r} is not installed (no module {spec.module})")
    sys.argv = [f"tusk serve {service}"]  # the service reads no arguments; keep ours out of its way
    service_entry(spec)()


COMMANDS: tuple[click.Command, ...] = (up, status, down, serve)


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)


def _register_on_root() -> None:
    from tusk.cli import main

    for command in COMMANDS:
        if command.name not in main.cli.commands:
            main.cli.add_command(command)


_register_on_root()
