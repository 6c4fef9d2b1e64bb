"""`tusk create|update|list|inspect|delete|stop|start pipeline`, `list|inspect|wait|stop job`,
`list|inspect|restart datum`, `tusk logs`, `create|list|inspect|delete secret` (pachctl's grammar).

Importing this module adds the nouns to the verb groups, and the verbs `update`, `stop`, `restart` and
`logs` to the root command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tusk import pipelines
from tusk.cli import groups
from tusk.cli.output import ago, emit, emit_json, human_duration, key_values, table
from tusk.cli.state import CliState, json_option, pass_state
from tusk_common.wire.pipelines import DatumInfo, JobInfo, PipelineInfo, image_digest

update = groups.verb_group("update", "Update a pipeline.")
stop = groups.verb_group("stop", "Stop a pipeline or a job.")
restart = groups.verb_group("restart", "Restart a datum.")

SPEC_FILE = click.option("-f", "--file", "spec_file", required=True, metavar="FILE",
                         help="Pipeline spec, JSON or YAML (several specs: a JSON stream or YAML documents; - reads stdin).")  # fmt: skip


def _read(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text()


def _job_ref(value: str) -> tuple[str, str]:
    pipeline, sep, job = value.partition("@")
    if not sep or not pipeline or not job:
        raise click.BadParameter(f"{value!r}: expected PIPELINE@JOB (a job id or a commit set id)")
    return pipeline, job


def _create(state: CliState, spec_file: str, as_json: bool, **flags: bool) -> None:
    replies = pipelines.api(state.client).create_pipeline(_read(spec_file), **flags)
    if state.want_json(as_json):
        emit_json(replies if len(replies) > 1 else replies[0])
        return
    for r in replies:
        if flags.get("dry_run"):
            rows = [(d.datum_id[:12], " ".join(f"{i.name}:{i.path}" for i in d.inputs)) for d in r.datums]
            emit(table(("DATUM", "INPUTS"), rows))
            click.echo(f"{r.datum_count} datum(s)", err=True)
        elif r.pipeline is not None:
            verb = "created" if r.created else f"updated to version {r.pipeline.version}"
            click.echo(f"pipeline {r.pipeline.name} {verb}" + (f"; job {r.job}" if r.job else ""), err=True)


@groups.create.command("pipeline")
@SPEC_FILE
@click.option("--dry-run", is_flag=True, help="Only list the datums the spec would produce now.")
@json_option
@pass_state
def create_pipeline(state: CliState, spec_file: str, dry_run: bool, as_json: bool) -> None:
    """Create a pipeline (and its output repo); it runs a first job if its inputs have data.

    \b
    tusk create pipeline -f edges.yaml
    """
    _create(state, spec_file, as_json, dry_run=dry_run)


@update.command("pipeline")
@SPEC_FILE
@click.option("--reprocess", is_flag=True, help="Run every datum again, even unchanged ones.")
@click.option("--keep-outputs", is_flag=True, help="Keep the outputs of the old code (do not reprocess).")
@click.option("--dry-run", is_flag=True, help="Only list the datums the spec would produce now.")
@json_option
@pass_state
def update_pipeline(state: CliState, spec_file: str, reprocess: bool, keep_outputs: bool, dry_run: bool,
                    as_json: bool) -> None:  # fmt: skip
    """Update a pipeline to a new version of its spec. Changed code reprocesses unless --keep-outputs."""
    _create(state, spec_file, as_json, update=True, reprocess=reprocess, keep_outputs=keep_outputs,
            dry_run=dry_run)  # fmt: skip


@groups.list_.command("pipeline")
@click.argument("name", required=False)
@json_option
@pass_state
def list_pipeline(state: CliState, name: str | None, as_json: bool) -> None:
    """List pipelines (or one)."""
    api = pipelines.api(state.client)
    infos = [api.inspect_pipeline(name)] if name else api.list_pipelines()
    if state.want_json(as_json):
        emit_json(infos)
        return
    emit(pipeline_table(infos))


@groups.inspect.command("pipeline")
@click.argument("name")
@click.option("--history", is_flag=True, help="Show every version of the spec.")
@click.option("--version", "version", type=click.IntRange(min=1), metavar="N",
              help="Show version N: its code and its whole spec (the one `tusk lineage` names).")  # fmt: skip
@json_option
@pass_state
def inspect_pipeline(state: CliState, name: str, history: bool, version: int | None, as_json: bool) -> None:
    """Show a pipeline, its spec and (with --history) its versions."""
    info = pipelines.api(state.client).inspect_pipeline(name, history=history or version is not None)
    if version is not None:
        _inspect_version(state, info, version, as_json)
        return
    if state.want_json(as_json):
        emit_json(info)
        return
    last = info.last_job
    emit(key_values([
        ("Name", info.name), ("Description", info.description or None), ("Version", info.version),
        ("State", info.state), ("Inputs", ", ".join(info.input_repos)),
        ("Output", f"{info.output_repo}@{info.output_branch}"), ("Created", ago(info.created_at)),
        ("Last job", f"{last.id} {last.state}" if last else "-"),
    ]))  # fmt: skip
    click.echo("Spec:")
    click.echo(json.dumps(info.spec, indent=2))
    if info.versions:
        emit(table(("VERSION", "CREATED", "SPEC", "TRANSFORM", "IMAGE", "REPROCESS", "KEEP OUTPUTS"),
                   [(v.version, ago(v.created_at), v.spec_hash[:12], v.transform_hash[:12],
                     _transform(v.spec).get("image") or "-", v.reprocess, v.keep_outputs)
                    for v in info.versions]))  # fmt: skip


def _transform(spec: dict[str, Any] | None) -> dict[str, Any]:
    return dict((spec or {}).get("transform") or {})


def _inspect_version(state: CliState, info: PipelineInfo, number: int, as_json: bool) -> None:
    """One version of the spec: the code a job of that version ran, and the whole spec."""
    found = next((v for v in info.versions if v.version == number), None)
    if found is None:
        raise groups.CliError(f"pipeline {info.name} has no version {number} (versions 1 to {info.version})")
    if state.want_json(as_json):
        emit_json(found)
        return
    transform = _transform(found.spec)
    current = " (current)" if number == info.version else f" (current: {info.version})"
    emit(key_values([
        ("Name", info.name), ("Version", f"{number}{current}"), ("Created", ago(found.created_at)),
        ("Spec hash", found.spec_hash), ("Transform hash", found.transform_hash),
        ("Cmd", " ".join(transform.get("cmd") or []) or None), ("Image", transform.get("image")),
        ("Image digest", image_digest(transform.get("image"))),
        ("Reprocess", found.reprocess), ("Keep outputs", found.keep_outputs),
    ]))  # fmt: skip
    click.echo("Spec:")
    click.echo(json.dumps(found.spec, indent=2))


@groups.delete.command("pipeline")
@click.argument("name")
@click.option("--keep-repo", is_flag=True, help="Keep the output repo.")
@click.option("-f", "--force", is_flag=True, help="Delete even if other pipelines read its output.")
@pass_state
def delete_pipeline(state: CliState, name: str, keep_repo: bool, force: bool) -> None:
    """Delete a pipeline, its jobs and (unless --keep-repo) its output repo."""
    pipelines.api(state.client).delete_pipeline(name, keep_repo=keep_repo, force=force)


@stop.command("pipeline")
@click.argument("name")
@pass_state
def stop_pipeline(state: CliState, name: str) -> None:
    """Pause a pipeline: running jobs finish, new commits queue jobs until `tusk start pipeline`."""
    pipelines.api(state.client).stop_pipeline(name)


@groups.start.command("pipeline")
@click.argument("name")
@pass_state
def start_pipeline(state: CliState, name: str) -> None:
    """Resume a paused pipeline."""
    pipelines.api(state.client).start_pipeline(name)


# ------------------------------------------------------------------ jobs


@groups.list_.command("job")
@click.argument("commit_set", required=False)
@click.option("-p", "--pipeline", default=None, help="Only this pipeline's jobs.")
@click.option("-n", "--number", type=click.IntRange(min=0), default=0, help="At most N jobs (0: all).")
@json_option
@pass_state
def list_job(state: CliState, commit_set: str | None, pipeline: str | None, number: int, as_json: bool) -> None:
    """List jobs, newest first: all, one pipeline's, or those of a COMMIT_SET."""
    jobs = pipelines.api(state.client).list_jobs(pipeline, commit_set=commit_set, limit=number or None)
    if state.want_json(as_json):
        emit_json(jobs)
        return
    emit(job_table(jobs))


@groups.inspect.command("job")
@click.argument("job")
@json_option
@pass_state
def inspect_job(state: CliState, job: str, as_json: bool) -> None:
    """Show PIPELINE@JOB: counts, bytes, durations, its commits."""
    info = pipelines.api(state.client).inspect_job(*_job_ref(job))
    if state.want_json(as_json):
        emit_json(info)
        return
    emit(job_details(info))


@groups.wait.command("job")
@click.argument("job")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS")
@json_option
@pass_state
def wait_job(state: CliState, job: str, timeout: float | None, as_json: bool) -> None:
    """Wait for PIPELINE@JOB to finish; exits 1 unless it succeeded."""
    info = pipelines.api(state.client).wait_job(*_job_ref(job), timeout=timeout)
    if state.want_json(as_json):
        emit_json(info)
    else:
        emit(job_table([info]))
    if info.state != "success":
        raise groups.CliError(f"job {info.pipeline}@{info.id} ended {info.state}: {info.reason or ''}".rstrip(": "))


@stop.command("job")
@click.argument("job")
@pass_state
def stop_job(state: CliState, job: str) -> None:
    """Stop PIPELINE@JOB: its output commit is finished as failed."""
    pipelines.api(state.client).stop_job(*_job_ref(job))


# ------------------------------------------------------------------ datums


@groups.list_.command("datum")
@click.argument("job")
@click.option("--state", "datum_state", default=None, help="Only datums in this state (success, skipped, failed, ...).")
@json_option
@pass_state
def list_datum(state: CliState, job: str, datum_state: str | None, as_json: bool) -> None:
    """List the datums of PIPELINE@JOB."""
    datums = pipelines.api(state.client).list_datums(*_job_ref(job), state=datum_state)
    if state.want_json(as_json):
        emit_json(datums)
        return
    emit(datum_table(datums))


@groups.inspect.command("datum")
@click.argument("job")
@click.argument("datum")
@json_option
@pass_state
def inspect_datum(state: CliState, job: str, datum: str, as_json: bool) -> None:
    """Show one datum of PIPELINE@JOB (DATUM: its id or a prefix of it)."""
    info = pipelines.api(state.client).inspect_datum(*_job_ref(job), datum)
    if state.want_json(as_json):
        emit_json(info)
        return
    emit(key_values([
        ("Datum", info.datum_id), ("Job", f"{info.pipeline}@{info.job}"), ("State", info.state),
        ("Attempts", info.attempts), ("Inputs", "; ".join(f"{i.name}:{i.path} ({i.file_count} files)"
                                                         for i in info.inputs)),
        ("Outputs", f"{info.output_files} files, {info.output_bytes} bytes"), ("Worker", info.worker),
        ("Error", info.error),
    ]))  # fmt: skip


@restart.command("datum")
@click.argument("job")
@click.argument("datum")
@pass_state
def restart_datum(state: CliState, job: str, datum: str) -> None:
    """Send a stuck running datum of PIPELINE@JOB to the workers again (its first result counts)."""
    pipelines.api(state.client).restart_datum(*_job_ref(job), datum)


# ------------------------------------------------------------------ logs


@click.command("logs")
@click.option("-p", "--pipeline", required=True, help="The pipeline.")
@click.option("--job", default=None, help="Only this job (id or commit set).")
@click.option("--datum", default=None, help="Only this datum (id or prefix).")
@click.option("-t", "--tail", type=click.IntRange(min=1), default=None, help="Only the last N lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@json_option
@pass_state
def logs(state: CliState, pipeline: str, job: str | None, datum: str | None, tail: int | None, follow: bool,
         as_json: bool) -> None:  # fmt: skip
    """Print what transforms wrote to stdout/stderr (kept after the worker is gone)."""
    for line in pipelines.api(state.client).logs(pipeline, job=job, datum=datum, tail=tail, follow=follow):
        if state.want_json(as_json):
            click.echo(json.dumps(line.model_dump(mode="json")))
        else:
            click.echo(f"{line.ts:%H:%M:%S} {line.datum_id[:12] if line.datum_id else '-'} {line.message}")


# ------------------------------------------------------------------ secrets


@groups.create.command("secret")
@click.option("-f", "--file", "secret_file", required=True, metavar="FILE",
              help="A Kubernetes-Secret-like JSON or YAML document (- reads stdin).")  # fmt: skip
@click.option("-u", "--update", is_flag=True, help="Replace an existing secret.")
@pass_state
def create_secret(state: CliState, secret_file: str, update: bool) -> None:
    """Store a secret, encrypted at rest; pipelines reference it by name."""
    info = pipelines.api(state.client).create_secret(_read(secret_file), update=update)
    click.echo(f"secret {info.name} stored with keys {', '.join(info.keys)}", err=True)


@groups.list_.command("secret")
@json_option
@pass_state
def list_secret(state: CliState, as_json: bool) -> None:
    """List secrets: names and key names, never values."""
    secrets = pipelines.api(state.client).list_secrets()
    if state.want_json(as_json):
        emit_json(secrets)
        return
    emit(table(("NAME", "TYPE", "KEYS", "UPDATED"), [(s.name, s.type, ", ".join(s.keys), ago(s.updated_at))
                                                     for s in secrets]))  # fmt: skip


@groups.inspect.command("secret")
@click.argument("name")
@json_option
@pass_state
def inspect_secret(state: CliState, name: str, as_json: bool) -> None:
    """Show a secret's keys (never its values)."""
    s = pipelines.api(state.client).inspect_secret(name)
    if state.want_json(as_json):
        emit_json(s)
        return
    emit(key_values([("Name", s.name), ("Type", s.type), ("Keys", ", ".join(s.keys)), ("Updated", ago(s.updated_at))]))


@groups.delete.command("secret")
@click.argument("name")
@pass_state
def delete_secret(state: CliState, name: str) -> None:
    """Delete a secret no pipeline uses."""
    pipelines.api(state.client).delete_secret(name)


# ------------------------------------------------------------------ rendering


def pipeline_table(infos: list[PipelineInfo]) -> str:
    rows = [(p.name, p.version, ", ".join(p.input_repos), ago(p.created_at), p.state,
             p.last_job.state if p.last_job else "-", p.description) for p in infos]  # fmt: skip
    return table(("NAME", "VERSION", "INPUT", "CREATED", "STATE", "LAST JOB", "DESCRIPTION"), rows)


def _progress(j: JobInfo) -> str:
    c = j.counts
    text = f"{c.processed + c.skipped + c.failed + c.recovered}/{c.total}"
    extra = [f"{n} {what}" for n, what in ((c.skipped, "skipped"), (c.failed, "failed"), (c.recovered, "recovered")) if n]
    return text + (f" ({', '.join(extra)})" if extra else "")


def _duration(j: JobInfo) -> str:
    if j.started_at is None or j.finished_at is None:
        return "-"
    return human_duration((j.finished_at - j.started_at).total_seconds())


def job_table(jobs: list[JobInfo]) -> str:
    rows = [(j.pipeline, j.id, ago(j.created_at), _duration(j), j.state, _progress(j)) for j in jobs]
    return table(("PIPELINE", "ID", "STARTED", "DURATION", "STATE", "PROGRESS"), rows)


def job_details(j: JobInfo) -> str:
    return key_values([
        ("Job", f"{j.pipeline}@{j.id}"), ("Pipeline version", j.pipeline_version), ("State", j.state),
        ("Reason", j.reason), ("Commit set", j.commit_set),
        ("Trigger", f"{j.trigger.repo}@{j.trigger.commit}" if j.trigger else "create/update"),
        ("Inputs", ", ".join(f"{i.repo}@{i.commit or '(empty)'}" for i in j.inputs) or "-"),
        ("Output", f"{j.output_repo}@{j.output_commit or '-'}"), ("Created", ago(j.created_at)),
        ("Duration", _duration(j)),
        ("Datums", f"{j.counts.total} total, {j.counts.processed} processed, {j.counts.skipped} skipped, "
                   f"{j.counts.failed} failed, {j.counts.recovered} recovered, {j.counts.pending} pending"),
        ("Data", f"{j.stats.download_bytes} bytes in, {j.stats.upload_bytes} bytes out"),
        ("Time", f"download {j.stats.download_seconds:.2f}s, process {j.stats.process_seconds:.2f}s, "
                 f"upload {j.stats.upload_seconds:.2f}s"),
    ])  # fmt: skip


def datum_table(datums: list[DatumInfo]) -> str:
    rows = [(d.datum_id[:12], d.state, d.attempts, " ".join(f"{i.name}:{i.path}" for i in d.inputs), d.error or "")
            for d in datums]  # fmt: skip
    return table(("ID", "STATE", "ATTEMPTS", "INPUTS", "ERROR"), rows)


def _register_on_root() -> None:
    from tusk.cli import main

    for command in (update, stop, restart, logs):
        if command.name not in main.cli.commands:
            main.cli.add_command(command)


_register_on_root()
