"""`python -m tusk.stack up|status|down|serve`: the stack commands without the rest of the CLI.

This is what `tusk up --detach` runs in the background.
"""

from __future__ import annotations

import click

from tusk.cli.stack_commands import register


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def stack() -> None:
    """The embedded Tusk stack."""


register(stack)

if __name__ == "__main__":
    stack(prog_name="tusk")
