"""`tusk put|get|list|glob|diff|inspect|delete|copy file`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import click

from tusk.batches import LocalEntry, Stamp, walk_dir
from tusk.cli import groups
from tusk.cli.output import emit, emit_json, human_size, key_values, table
from tusk.cli.progress import TransferBar, on_terminal
from tusk.cli.state import FILE, FILE_OPT_PATH, GLOB, CliState, json_option, pass_state
from tusk.uri import Address
from tusk_common.errors import Invalid
from tusk_common.wire.versioning import DiffEntry, FileInfo

PARALLEL = click.option(
    "-p", "--parallelism", "parallel", type=click.IntRange(1, 64), default=4, show_default=True,
    help="Transfers at once.",
)


# ---------------------------------------------------------------------- put


@groups.put.command("file")
@click.argument("target", type=FILE_OPT_PATH, metavar="REPO@BRANCH[:/PATH]")
@click.option("-f", "--file", "sources", multiple=True, required=True,
              type=click.Path(exists=True, allow_dash=True, path_type=str),
              help="Local file, directory (with -r), or - for stdin. Repeatable.")
@click.option("-r", "--recursive", is_flag=True, help="Upload directories recursively.")
@click.option("-a", "--append", is_flag=True, help="Append to the file instead of overwriting it.")
@click.option("-m", "--message", default=None, help="Description of the commit the upload makes.")
@PARALLEL
@pass_state
def put_file(
    state: CliState, target: Address, sources: tuple[str, ...], recursive: bool, append: bool,
    message: str | None, parallel: int,
) -> None:
    """Upload files to a branch (or an open commit).

    If PATH is omitted or ends with '/', the local file's name is appended to it. Everything one
    command uploads lands in one commit.

    \b
    tusk put file images@master:/cats/1.png -f 1.png
    tusk put file -r images@master:/raw -f ./photos
    cat log.txt | tusk put file logs@master:/today.txt -f -
    """
    assert target.ref is not None
    client = state.client
    if "-" in sources:
        if len(sources) > 1:
            raise click.UsageError("'-f -' (stdin) cannot be combined with other sources")
        if target.path is None or target.dir_like:
            raise click.UsageError("uploading stdin needs a file path: REPO@BRANCH:/PATH -f -")
        stdin = sys.stdin.buffer
        with TransferBar(f"put {target.path}", None) as bar:
            client.put_file(target.repo, target.ref, target.path, stdin, append=append,
                            message=message, progress=bar)
        return
    entries = _plan_entries(target, sources, recursive)
    total = sum(e.size for e in entries)
    if len(entries) == 1 and len(sources) == 1 and os.path.isfile(sources[0]):
        entry = entries[0]
        with TransferBar(f"put {entry.dest}", total) as bar:
            client.put_file(target.repo, target.ref, entry.dest, entry.source, append=append,
                            message=message, progress=bar)
        return
    with TransferBar(f"put {len(entries)} files", total, len(entries)) as bar:
        client.put_files(  # a list: files the target already holds unchanged are not sent again
            target.repo, target.ref, entries,
            append=append, message=message, parallel=parallel, progress=bar,
        )


def _plan_entries(target: Address, sources: tuple[str, ...], recursive: bool) -> list[LocalEntry]:
    base = target.path or "/"
    as_dir = target.path is None or target.dir_like or len(sources) > 1
    entries: list[LocalEntry] = []
    for source in sources:
        local = Path(source)
        dest = _join(base, _local_name(local)) if as_dir else base
        if local.is_dir():
            if not recursive:
                raise click.UsageError(f"{source} is a directory: use -r to upload it recursively")
            entries.extend(walk_dir(local, dest))
        else:
            if dest == "/":
                raise click.UsageError("the destination must name a file, not '/'")
            st = local.stat()
            entries.append(LocalEntry(dest, local, st.st_size, Stamp.of(st)))
    return entries


def _local_name(local: Path) -> str:
    return local.name or local.resolve().name


def _join(base: str, name: str) -> str:
    return str(PurePosixPath(base) / name)


# ---------------------------------------------------------------------- get


@groups.get.command("file")
@click.argument("source", type=FILE)
@click.option("-o", "--output", type=click.Path(path_type=str), default=None,
              help="Local file (or directory, with -r); default: stdout.")
@click.option("-r", "--recursive", is_flag=True, help="Download a directory recursively (needs -o).")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Start at this byte.")
@PARALLEL
@pass_state
def get_file(
    state: CliState, source: Address, output: str | None, recursive: bool, offset: int, parallel: int
) -> None:
    """Download a file (to stdout unless -o), or a directory with -r -o DIR.

    \b
    tusk get file edges@master:/cats/1.png -o out.png
    tusk get file -r images@master:/raw -o ./raw
    """
    assert source.ref is not None and source.path is not None
    client = state.client
    if recursive:
        if output is None:
            raise click.UsageError("get file -r writes a directory: give it one with -o DIR")
        info = client.inspect_file(source.repo, source.ref, source.path)
        if info.type == "file":
            _get_one(state, source, _into(Path(output), source.path), offset, info.size, parallel)
            return
        total, count = None, 0
        if on_terminal():  # the bar's total needs a listing; skip it when no bar can be drawn
            listing = list(client.list_files(source.repo, info.commit, source.path, recursive=True))
            total, count = sum(f.size for f in listing if f.type == "file"), len(listing)
        with TransferBar(f"get {source.path}", total, count) as bar:
            client.get_dir(source.repo, info.commit, source.path, output, parallel=parallel, progress=bar)
        return
    size = None
    if on_terminal():  # only a terminal shows a bar, so only then ask for the size first
        size = max(client.inspect_file(source.repo, source.ref, source.path).size - offset, 0)
    target = _into(Path(output), source.path) if output is not None else None
    _get_one(state, source, target, offset, size, parallel)


def _get_one(
    state: CliState, source: Address, output: Path | None, offset: int, size: int | None, parallel: int
) -> None:
    assert source.ref is not None and source.path is not None
    client = state.client
    try:
        with TransferBar(f"get {source.path}", size) as bar:
            if output is None:
                stdout = sys.stdout.buffer
                client.get_file(source.repo, source.ref, source.path, stdout, offset=offset, progress=bar)
                stdout.flush()
            else:
                client.get_file(source.repo, source.ref, source.path, output, offset=offset, progress=bar,
                                parallel=parallel)
    except Invalid as exc:
        info = client.inspect_file(source.repo, source.ref, source.path)
        if info.type == "dir":
            raise groups.CliError(f"{source} is a directory: use get file -r -o DIR") from exc
        raise


def _into(output: Path, remote: str) -> Path:
    """An existing local directory receives the file under its own name, as `cp` does."""
    return output / PurePosixPath(remote).name if output.is_dir() else output


# --------------------------------------------------------------- list / glob


@groups.list_.command("file")
@click.argument("source", type=FILE_OPT_PATH)
@click.option("-r", "--recursive", is_flag=True, help="Every file below the path, not only its entries.")
@json_option
@pass_state
def list_file(state: CliState, source: Address, recursive: bool, as_json: bool) -> None:
    """List a directory (default: the root).

    \b
    tusk list file images@master:/cats
    """
    assert source.ref is not None
    files = state.client.list_files(source.repo, source.ref, source.path or "/", recursive=recursive)
    _print_files(state, files, as_json)


@groups.glob.command("file")
@click.argument("pattern", type=GLOB)
@json_option
@pass_state
def glob_file(state: CliState, pattern: Address, as_json: bool) -> None:
    """List the files and directories matching a glob pattern.

    \b
    tusk glob file "images@master:/**.png"
    """
    assert pattern.ref is not None and pattern.path is not None
    _print_files(state, state.client.glob_files(pattern.repo, pattern.ref, pattern.path), as_json)


def _print_files(state: CliState, files: Iterable[FileInfo], as_json: bool) -> None:
    items = list(files)
    if state.want_json(as_json):
        emit_json(items)
        return
    rows = [(_display(f), f.type, human_size(f.size)) for f in items]
    emit(table(("NAME", "TYPE", "SIZE"), rows))


def _display(f: FileInfo) -> str:
    return f.path + "/" if f.type == "dir" and f.path != "/" else f.path


# --------------------------------------------------------------------- diff


@groups.diff.command("file")
@click.argument("new", type=FILE_OPT_PATH)
@click.argument("old_arg", type=FILE_OPT_PATH, required=False, metavar="[OLD]")
@click.option("--old", "old_opt", type=FILE_OPT_PATH, default=None, metavar="REPO@REF",
              help="What to compare against (default: the parent commit).")
@json_option
@pass_state
def diff_file(
    state: CliState, new: Address, old_arg: Address | None, old_opt: Address | None, as_json: bool
) -> None:
    """Show the files that changed between two commits, below a path.

    \b
    tusk diff file images@master             # against the parent commit
    tusk diff file images@master:/cats --old images@master^3
    """
    assert new.ref is not None
    if old_arg is not None and old_opt is not None:
        raise click.UsageError("give OLD either as an argument or with --old, not both")
    old = old_arg or old_opt
    changes = state.client.diff_files(
        new.repo, new.ref, new.path or "/",
        base=old.ref if old else None, base_repo=old.repo if old else None,
    )
    items = list(changes)
    if state.want_json(as_json):
        emit_json(items)
        return
    emit(table(("CHANGE", "NAME", "TYPE", "SIZE"), [_diff_row(c) for c in items]))


def _diff_row(change: DiffEntry) -> tuple[str, str, str, str]:
    side = change.new or change.old
    kind = side.type if side else "file"
    if change.change == "modified" and change.old and change.new:
        size = f"{human_size(change.old.size)} -> {human_size(change.new.size)}"
    else:
        size = human_size(side.size) if side else "-"
    return (change.change, change.path, kind, size)


# ------------------------------------------------------ inspect / delete / copy


@groups.inspect.command("file")
@click.argument("source", type=FILE)
@json_option
@pass_state
def inspect_file(state: CliState, source: Address, as_json: bool) -> None:
    """Show a file's or directory's type, size and content id."""
    assert source.ref is not None and source.path is not None
    info = state.client.inspect_file(source.repo, source.ref, source.path)
    if state.want_json(as_json):
        emit_json(info)
        return
    content = info.content
    emit(
        key_values(
            [
                ("Path", info.path),
                ("Type", info.type),
                ("Size", human_size(info.size)),
                ("Files", info.file_count if info.type == "dir" else None),
                ("Commit", info.commit),
                ("Content id", content.id if content else None),
                ("MD5", content.md5 if content else None),
            ]
        )
    )


@groups.delete.command("file")
@click.argument("target", type=FILE)
@pass_state
def delete_file(state: CliState, target: Address) -> None:
    """Delete a file, or a directory with everything below it."""
    assert target.ref is not None and target.path is not None
    state.client.delete_file(target.repo, target.ref, target.path)


@groups.copy.command("file")
@click.argument("src", type=FILE)
@click.argument("dst", type=FILE_OPT_PATH, metavar="REPO@BRANCH[:/PATH]")
@pass_state
def copy_file(state: CliState, src: Address, dst: Address) -> None:
    """Copy a file or directory by reference (no bytes are moved).

    \b
    tusk copy file images@master:/cats edges@master:/cats-in
    """
    assert src.ref is not None and src.path is not None and dst.ref is not None
    dest = dst.path or "/"
    if dst.path is None or dst.dir_like:
        dest = _join(dest, PurePosixPath(src.path).name or "")
    state.client.copy_file(src.repo, src.ref, src.path, dst.repo, dst.ref, dest)


