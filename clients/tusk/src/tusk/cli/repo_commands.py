"""`tusk create|list|inspect|delete repo`."""

from __future__ import annotations

import click

from tusk.cli import groups
from tusk.cli.output import ago, emit, emit_json, human_size, key_values, table
from tusk.cli.state import REPO, CliState, json_option, pass_state
from tusk.uri import Address
from tusk_common.wire.versioning import RepoInfo


@groups.create.command("repo")
@click.argument("repo", type=REPO)
@click.option("-d", "--description", default="", help="What the repo holds.")
@click.option("-u", "--update", is_flag=True, help="Update the description if the repo exists.")
@pass_state
def create_repo(state: CliState, repo: Address, description: str, update: bool) -> None:
    """Create REPO.

    \b
    tusk create repo images --description "raw camera images"
    """
    state.client.create_repo(repo.repo, description, update=update)


@groups.list_.command("repo")
@json_option
@pass_state
def list_repo(state: CliState, as_json: bool) -> None:
    """List every repo."""
    repos = state.client.list_repos()
    if state.want_json(as_json):
        emit_json(repos)
        return
    emit(repo_table(repos))


@groups.inspect.command("repo")
@click.argument("repo", type=REPO)
@json_option
@pass_state
def inspect_repo(state: CliState, repo: Address, as_json: bool) -> None:
    """Show REPO in detail."""
    info = state.client.inspect_repo(repo.repo)
    if state.want_json(as_json):
        emit_json(info)
        return
    emit(
        key_values(
            [
                ("Name", info.name),
                ("Description", info.description or None),
                ("Created", ago(info.created_at)),
                ("Default branch", info.default_branch),
                ("Branches", ", ".join(info.branches) or "-"),
                (f"Size of HEAD on {info.default_branch}", human_size(info.size_bytes)),
                ("Files", info.file_count),
            ]
        )
    )


@groups.delete.command("repo")
@click.argument("repo", type=REPO)
@click.option("-f", "--force", is_flag=True, help="Delete even if other repos or pipelines depend on it.")
@pass_state
def delete_repo(state: CliState, repo: Address, force: bool) -> None:
    """Delete REPO with all its branches, commits and files."""
    state.client.delete_repo(repo.repo, force=force)


def repo_table(repos: list[RepoInfo]) -> str:
    rows = [(r.name, ago(r.created_at), human_size(r.size_bytes), r.description or "") for r in repos]
    return table(("REPO", "CREATED", "SIZE", "DESCRIPTION"), rows)
