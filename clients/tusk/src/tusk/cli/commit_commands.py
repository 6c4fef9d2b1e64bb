"""`tusk start|finish|list|inspect|wait|squash|delete commit`."""

from __future__ import annotations

import time

import click

from tusk.cli import groups
from tusk.cli.output import ago, emit, emit_json, human_size, key_values, short, table
from tusk.cli.state import REPO_AT_REF, REPO_OPT_REF, CliState, json_option, pass_state
from tusk.uri import Address
from tusk_common.errors import Invalid, Unavailable
from tusk_common.naming import check_name
from tusk_common.wire.versioning import CommitInfo

COMMIT = click.argument("commit", type=REPO_AT_REF, metavar="REPO@REF")


@groups.start.command("commit")
@click.argument("branch", type=REPO_AT_REF, metavar="REPO@BRANCH")
@click.option("--parent", default=None, metavar="REF", help="Parent commit (default: the branch head).")
@click.option("-m", "--message", "--description", "message", default="", help="Commit description.")
@pass_state
def start_commit(state: CliState, branch: Address, parent: str | None, message: str) -> None:
    """Open a commit on a branch and print its id.

    Puts to the branch land in the open commit until `tusk finish commit`.

    \b
    tusk start commit images@master -m "nightly import"
    """
    assert branch.ref is not None
    try:
        name = check_name(branch.ref, field="branch")
    except Invalid as exc:
        raise click.BadParameter(f"{branch}: commits are started on a branch ({exc.message})") from exc
    info = state.client.start_commit(branch.repo, name, parent=parent, description=message)
    click.echo(info.id)


@groups.finish.command("commit")
@COMMIT
@click.option("-m", "--message", "--description", "message", default=None, help="Set the description.")
@pass_state
def finish_commit(state: CliState, commit: Address, message: str | None) -> None:
    """Finish an open commit (a branch finishes its open head)."""
    assert commit.ref is not None
    state.client.finish_commit(commit.repo, commit.ref, description=message)


@groups.list_.command("commit")
@click.argument("repo", type=REPO_OPT_REF, metavar="REPO[@BRANCH]")
@click.option("-n", "--number", type=click.IntRange(min=0), default=0, help="At most N commits (0: all).")
@json_option
@pass_state
def list_commit(state: CliState, repo: Address, number: int, as_json: bool) -> None:
    """List the commits of a repo, or of a branch's history, newest first."""
    commits = list(state.client.list_commits(repo.repo, repo.ref, limit=number or None))
    if state.want_json(as_json):
        emit_json(commits)
        return
    emit(commit_table(commits))


@groups.inspect.command("commit")
@COMMIT
@json_option
@pass_state
def inspect_commit(state: CliState, commit: Address, as_json: bool) -> None:
    """Show one commit in detail."""
    assert commit.ref is not None
    info = state.client.inspect_commit(commit.repo, commit.ref)
    if state.want_json(as_json):
        emit_json(info)
        return
    emit(commit_details(info))


@groups.wait.command("commit")
@COMMIT
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Give up after this long (default: wait as long as it takes).")
@json_option
@pass_state
def wait_commit(state: CliState, commit: Address, timeout: float | None, as_json: bool) -> None:
    """Wait until a commit, and everything downstream of it, is finished.

    Exits 1 if the commit finished with an error.
    """
    assert commit.ref is not None
    deadline = None if timeout is None else time.monotonic() + timeout
    info = state.client.wait_commit(commit.repo, commit.ref, timeout=timeout)
    downstream = None
    if not info.error:
        left = None if deadline is None else max(0.001, deadline - time.monotonic())
        try:
            downstream = state.client.wait_commit_set(info.commit_set, repo=info.repo, commit=info.id,
                                                      timeout=left)
        except Unavailable as exc:
            click.echo(f"tusk: warning: pipelines are not reachable ({exc.message}); waited for the commit only",
                       err=True)
    if state.want_json(as_json):
        emit_json({"commit": info.model_dump(mode="json"),
                   "jobs": [j.model_dump(mode="json") for j in downstream.jobs] if downstream else []})
    else:
        emit(commit_table([info]))
    if info.error:
        raise groups.CliError(f"commit {info.repo}@{info.id} finished with an error: {info.error}")
    if downstream is not None and not downstream.done:
        raise groups.CliError(f"timed out waiting for the jobs downstream of {info.repo}@{info.id}")
    if downstream is not None and downstream.failed:
        failed = [f"{j.pipeline}@{j.id} ({j.state})" for j in downstream.jobs
                  if j.state in ("failure", "killed", "unrunnable")]
        raise groups.CliError(f"a job downstream of {info.repo}@{info.id} did not succeed: {', '.join(failed)}")


@groups.squash.command("commit")
@COMMIT
@pass_state
def squash_commit(state: CliState, commit: Address) -> None:
    """Fold a commit's changes into its children and remove it."""
    assert commit.ref is not None
    state.client.squash_commit(commit.repo, commit.ref)


@groups.delete.command("commit")
@COMMIT
@pass_state
def delete_commit(state: CliState, commit: Address) -> None:
    """Delete a commit (an open one, or a finished head); its branch moves back to the parent."""
    assert commit.ref is not None
    state.client.delete_commit(commit.repo, commit.ref)


def commit_table(commits: list[CommitInfo]) -> str:
    rows = [
        (
            c.repo,
            c.branch or "-",
            c.id,
            ago(c.finished_at) if c.state == "finished" else "-",
            human_size(c.size_bytes),
            c.origin.upper(),
            _description(c),
        )
        for c in commits
    ]
    return table(("REPO", "BRANCH", "COMMIT", "FINISHED", "SIZE", "ORIGIN", "DESCRIPTION"), rows)


def commit_details(c: CommitInfo) -> str:
    return key_values(
        [
            ("Commit", f"{c.repo}@{c.id}"),
            ("Original Branch", c.branch or "-"),
            ("Parent", short(c.parent)),
            ("Origin", c.origin.upper()),
            ("Commit set", c.commit_set),
            ("State", c.state),
            ("Started", ago(c.started_at)),
            ("Finished", ago(c.finished_at) if c.finished_at else "-"),
            ("Size", human_size(c.size_bytes)),
            ("Files", c.file_count),
            ("Description", c.description or None),
            ("Error", c.error),
        ]
    )


def _description(c: CommitInfo) -> str:
    text = c.description or ""
    return f"[failed: {c.error}] {text}".strip() if c.error else text
