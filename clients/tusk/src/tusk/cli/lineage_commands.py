"""`tusk lineage` and `tusk reproduce`: provenance as a tree, JSON, DOT or Mermaid; exact inputs and code.

A plugin module of the `tusk` command (loaded lazily by `tusk.cli.groups`): importing it adds the commands
to the root group.
"""

from __future__ import annotations

import click

from tusk.cli.output import emit, emit_json, key_values, table
from tusk.cli.state import FILE_OPT_PATH, REPO_AT_REF, CliState, json_option, pass_state
from tusk.lineage import lineage_api
from tusk.uri import Address
from tusk_common.wire.lineage import LineageNode, ReproducePlan


@click.command("lineage")
@click.argument("address", type=FILE_OPT_PATH, metavar="REPO@REF[:/PATH]", required=False)
@click.option("--upstream", "direction", flag_value="upstream", default=True,
              help="What it came from, back to the user commits (the default).")
@click.option("--downstream", "direction", flag_value="downstream",
              help="Everything derived from it, in every pipeline and commit set.")
@click.option("--depth", type=click.IntRange(1, 100), default=10, show_default=True,
              help="Pipeline steps to follow.")
@click.option("--commit-set", "commit_set", metavar="ID", help="The whole cascade of one change instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the graph as JSON.")
@click.option("--dot", "as_dot", is_flag=True, help="Print Graphviz DOT (tusk lineage ... --dot | dot -Tsvg).")
@click.option("--mermaid", "as_mermaid", is_flag=True, help="Print a Mermaid flowchart.")
@pass_state
def lineage(state: CliState, address: Address | None, direction: str, depth: int, commit_set: str | None,
            as_json: bool, as_dot: bool, as_mermaid: bool) -> None:  # fmt: skip
    """Which inputs, pipeline versions and code made a commit or a file, or what was derived from it.

    \b
    tusk lineage edges@master:/cats/1.png             # the files and code it came from
    tusk lineage images@master:/cats/1.png --downstream
    tusk lineage --commit-set 1f0c...                  # every commit and job of one change
    tusk lineage model@master --dot | dot -Tsvg > lineage.svg
    """
    if sum((as_json or state.json, as_dot, as_mermaid)) > 1:
        raise click.UsageError("give at most one of --json, --dot and --mermaid")
    if (address is None) == (commit_set is None):
        raise click.UsageError("give either REPO@REF[:/PATH] or --commit-set ID")
    fmt = "dot" if as_dot else "mermaid" if as_mermaid else "json" if state.want_json(as_json) else "tree"
    api = lineage_api(state.client)
    if commit_set is not None:
        reply = api.commit_set_lineage(commit_set, format=fmt)  # type: ignore[arg-type]
    else:
        assert address is not None and address.ref is not None
        reply = api.lineage(address.repo, address.ref, address.path, direction=direction,  # type: ignore[arg-type]
                            depth=depth, format=fmt)  # type: ignore[arg-type]
    if fmt == "json":
        emit_json(reply.graph)
    else:
        emit(reply.rendered or "")


@click.command("reproduce")
@click.argument("commit", type=REPO_AT_REF, metavar="REPO@REF")
@click.option("--run", is_flag=True, help="Run the last step again into a scratch pipeline and compare.")
@click.option("--keep", is_flag=True, help="With --run: keep the scratch pipeline and branches.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=600.0, show_default=True,
              metavar="SECONDS", help="With --run: how long the re-run may take.")
@json_option
@pass_state
def reproduce(state: CliState, commit: Address, run: bool, keep: bool, timeout: float, as_json: bool) -> None:
    """Print the exact input commits and pipeline versions that made a commit, step by step.

    Exit code 1 when --run finds outputs that differ.
    """
    assert commit.ref is not None
    plan = lineage_api(state.client).reproduce(commit.repo, commit.ref, run=run, keep=keep, timeout=timeout)
    if state.want_json(as_json):
        emit_json(plan)
    else:
        emit(render_plan(plan))
    if plan.check is not None and not plan.check.identical:
        raise click.exceptions.Exit(1)


def _commit(n: LineageNode) -> str:
    return f"{n.repo}@{n.commit}"


def render_plan(plan: ReproducePlan) -> str:
    if plan.user_commit:
        return f"{plan.repo}@{plan.commit} was committed by a user: it is an input, nothing made it."
    parts = []
    for i, step in enumerate(plan.steps, 1):
        pv = step.pipeline_version
        parts.append(f"step {i}: {step.repo}@{step.commit}")
        parts.append(key_values([
            ("  job", f"{pv.pipeline}@{step.job} ({step.job_state})"),
            ("  pipeline", f"{pv.pipeline} version {pv.version}"),
            ("  spec hash", pv.spec_hash), ("  transform hash", pv.transform_hash),
            ("  cmd", " ".join(pv.cmd) if pv.cmd else None), ("  image", pv.image),
            ("  image digest", pv.image_digest),
        ]))  # fmt: skip
        parts.append(table(["  INPUT", "COMMIT", "BRANCH"], [[f"  {n.repo}", n.commit, n.branch] for n in step.inputs]))
    parts.append("user commits: " + ", ".join(_commit(n) for n in plan.roots))
    c = plan.check
    if c is not None:
        verdict = "identical" if c.identical else "DIFFERENT"
        parts.append(f"re-run: {verdict} ({c.same} same, {len(c.differing)} differing, {len(c.missing)} missing,"
                     f" {len(c.extra)} extra) in {c.scratch_repo}@{c.scratch_commit} (job {c.job}, {c.job_state})")
        for label, paths in (("differs", c.differing), ("missing", c.missing), ("extra", c.extra)):
            parts.extend(f"  {label}: {p}" for p in paths[:50])
    return "\n".join(parts)


COMMANDS: tuple[click.Command, ...] = (lineage, reproduce)


def _register_on_root() -> None:
    from tusk.cli import main

    for command in COMMANDS:
        if command.name not in main.cli.commands:
            main.cli.add_command(command)


_register_on_root()
