"""`tusk create|list|inspect|delete branch`."""

from __future__ import annotations

import click

from tusk.cli import groups
from tusk.cli.output import ago, emit, emit_json, key_values, short, table
from tusk.cli.state import REPO, REPO_AT_REF, CliState, json_option, pass_state
from tusk.uri import Address
from tusk_common.errors import Invalid
from tusk_common.naming import check_name


def _branch(address: Address) -> str:
    assert address.ref is not None
    try:
        return check_name(address.ref, field="branch")
    except Invalid as exc:
        raise click.BadParameter(f"{address}: {exc.message}") from exc


@groups.create.command("branch")
@click.argument("branch", type=REPO_AT_REF, metavar="REPO@BRANCH")
@click.option("--head", default=None, metavar="REF", help="Commit (or branch, or BRANCH^N) to point at.")
@pass_state
def create_branch(state: CliState, branch: Address, head: str | None) -> None:
    """Create a branch, empty or pointing at --head.

    \b
    tusk create branch images@dev --head master
    """
    state.client.create_branch(branch.repo, _branch(branch), head)


@groups.list_.command("branch")
@click.argument("repo", type=REPO)
@json_option
@pass_state
def list_branch(state: CliState, repo: Address, as_json: bool) -> None:
    """List the branches of REPO."""
    branches = state.client.list_branches(repo.repo)
    if state.want_json(as_json):
        emit_json(branches)
        return
    rows = [(b.name, short(b.head), ago(b.created_at)) for b in branches]
    emit(table(("BRANCH", "HEAD", "CREATED"), rows))


@groups.inspect.command("branch")
@click.argument("branch", type=REPO_AT_REF, metavar="REPO@BRANCH")
@json_option
@pass_state
def inspect_branch(state: CliState, branch: Address, as_json: bool) -> None:
    """Show one branch."""
    info = state.client.inspect_branch(branch.repo, _branch(branch))
    if state.want_json(as_json):
        emit_json(info)
        return
    emit(key_values([("Name", info.name), ("Repo", info.repo), ("Head", short(info.head)),
                     ("Created", ago(info.created_at))]))


@groups.delete.command("branch")
@click.argument("branch", type=REPO_AT_REF, metavar="REPO@BRANCH")
@click.option("-f", "--force", is_flag=True, help="Delete even if something depends on the branch.")
@pass_state
def delete_branch(state: CliState, branch: Address, force: bool) -> None:
    """Delete a branch (its commits stay reachable by id)."""
    state.client.delete_branch(branch.repo, _branch(branch), force=force)
