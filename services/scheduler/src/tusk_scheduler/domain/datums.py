"""Datums: the units of work a pipeline's input tree expands to on given input commits.

- pfs: each path (file or directory) the glob matches is one datum; a directory brings every file below it.
- cross: the Cartesian product of its inputs' datums (the first input varies slowest).
- union: its inputs' datums one after the other.
- join: datums of different inputs whose `join_on` values are equal are crossed; an input with
  `outer_join` also yields its datums whose value is not matched by every input.
- group: every datum of every input with the same `group_by` value forms one datum.
- cron: each tick file of the cron repo is one datum (glob `/*`).

A datum's `datum_id` hashes (input name, repo, branch, path) of each of its inputs, so it is stable across
commits (Pachyderm's DatumID). Its `datum_hash` hashes the id, every input file's path and content hash,
the transform hash and the salt: the key of incremental processing.
"""

from __future__ import annotations

import hashlib
import itertools
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from tusk_common.errors import Invalid, NotFound
from tusk_scheduler.domain.glob import compile_glob, expand_template

if TYPE_CHECKING:
    from tusk_scheduler.domain.spec import Input, PipelineSpec

FILE, DIR = "file", "dir"
_AFTER_SLASH = chr(ord("/") + 1)  # every path below `p` sorts in [p + "/", p + _AFTER_SLASH)


class FileEntry(NamedTuple):
    """One entry of a commit's listing; plain `(kind, hash, size)` tuples are accepted too."""

    kind: str  # "file" or "dir"
    hash: str
    size: int = 0


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The listing of one input branch at one commit: absolute path -> FileEntry.

    Directories may be listed or left implicit (parents of files). `commit` is None for a branch with
    no commit yet (its listing is empty).
    """

    repo: str
    branch: str
    commit: str | None
    files: Mapping[str, FileEntry | tuple[str, str, int]]

    @cached_property
    def listing(self) -> _Listing:
        return _Listing(self)


class _Listing:
    """Sorted views of a snapshot, built once: matching is a range scan, a directory's files a slice."""

    def __init__(self, snap: Snapshot) -> None:
        files: dict[str, str] = {}
        dirs: set[str] = set()
        for path, raw in snap.files.items():
            entry = FileEntry(*raw)
            if not path.startswith("/") or (path != "/" and path.endswith("/")):
                raise Invalid(
                    f"listing of {snap.repo}@{snap.branch}: {path!r} is not a canonical absolute path"
                )
            if entry.kind == FILE and path != "/":
                files[path] = entry.hash
                _add_parents(path, dirs)
            elif entry.kind == DIR:
                if path != "/":
                    dirs.add(path)
                    _add_parents(path, dirs)
            else:  # an unknown kind, or "/" listed as a file
                raise Invalid(f"listing of {snap.repo}@{snap.branch}: {path!r} has kind {entry.kind!r}")
        clash = dirs.intersection(files)
        if clash:
            raise Invalid(
                f"listing of {snap.repo}@{snap.branch}: {min(clash)!r} is both a file and a directory"
            )
        self.file_paths = sorted(files)
        self.file_hashes = [files[p] for p in self.file_paths]
        self.files = files
        self.nodes = sorted(files.keys() | dirs)

    def below(self, path: str) -> tuple[tuple[str, str], ...]:
        """The (path, content hash) of the file at `path`, or of every file below the directory `path`."""
        if path in self.files:
            return ((path, self.files[path]),)
        if path == "/":
            lo, hi = 0, len(self.file_paths)
        else:
            lo = bisect_left(self.file_paths, path + "/")
            hi = bisect_left(self.file_paths, path + _AFTER_SLASH, lo)
        return tuple(zip(self.file_paths[lo:hi], self.file_hashes[lo:hi], strict=True))

    def candidates(self, prefix: str) -> Sequence[str]:
        lo = bisect_left(self.nodes, prefix)
        hi = bisect_left(self.nodes, prefix + "\U0010ffff", lo)
        return self.nodes[lo:hi]


def _add_parents(path: str, dirs: set[str]) -> None:
    # Stops at the first known parent: every known directory already has all its ancestors.
    end = len(path)
    while True:
        cut = path.rfind("/", 0, end)
        if cut <= 0:
            return
        parent = path[:cut]
        if parent in dirs:
            return
        dirs.add(parent)
        end = cut


@dataclass(frozen=True, slots=True)
class DatumInput:
    """One input's share of a datum: the matched path and the files it brings, at one commit."""

    name: str
    repo: str
    branch: str
    commit: str | None
    path: str
    files: tuple[tuple[str, str], ...]  # (path, content hash), sorted by path
    join_on: str | None = None
    group_by: str | None = None


@dataclass(frozen=True, slots=True)
class Datum:
    inputs: tuple[DatumInput, ...]
    datum_id: str
    datum_hash: str


def datum_id(inputs: Sequence[DatumInput]) -> str:
    """Stable across commits: hashes (name, repo, branch, path) of each input."""
    parts = ["tusk.datum-id.v1"]
    for inp in inputs:
        parts += (inp.name, inp.repo, inp.branch, inp.path)
    return _digest(parts)


def datum_hash(datum_id: str, inputs: Sequence[DatumInput], *, transform_hash: str, salt: str = "") -> str:
    """The incremental key: the id, every input file's path and content hash, the transform, the salt."""
    parts = ["tusk.datum-hash.v1", datum_id, transform_hash, salt or ""]
    for inp in inputs:
        parts += (inp.name, str(len(inp.files)))
        for path, content in inp.files:
            parts += (path, content)
    return _digest(parts)


def make_datum(inputs: Sequence[DatumInput], *, transform_hash: str, salt: str = "") -> Datum:
    ident = datum_id(inputs)
    return Datum(tuple(inputs), ident, datum_hash(ident, inputs, transform_hash=transform_hash, salt=salt))


def _digest(parts: list[str]) -> str:
    # Each part is prefixed by its length, so no two different part lists encode alike.
    text = "".join(f"{len(p)}:{p}" for p in parts)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=32).hexdigest()


def datums_for(spec: PipelineSpec, snapshots: Iterable[Snapshot] | Mapping[object, Snapshot]) -> list[Datum]:
    """The datums of `spec` on the given input snapshots, hashed with its transform and salt."""
    return compute_datums(spec.input, snapshots, transform_hash=spec.transform_hash(), salt=spec.salt or "")


def compute_datums(
    inp: Input,
    snapshots: Iterable[Snapshot] | Mapping[object, Snapshot],
    *,
    transform_hash: str,
    salt: str = "",
) -> list[Datum]:
    """Expand `inp` on one snapshot per (repo, branch) it reads; deterministic order, ids unique."""
    snaps = snapshots.values() if isinstance(snapshots, Mapping) else snapshots
    by_branch: dict[tuple[str, str], Snapshot] = {}
    for snap in snaps:
        key = (snap.repo, snap.branch)
        if key in by_branch and by_branch[key].commit != snap.commit:
            raise Invalid(f"two snapshots of {snap.repo}@{snap.branch} were given")
        by_branch[key] = snap
    out: list[Datum] = []
    seen: set[str] = set()
    for inputs in _expand(inp, by_branch):
        datum = make_datum(inputs, transform_hash=transform_hash, salt=salt)
        if datum.datum_id not in seen:  # a union may reach the same input path twice
            seen.add(datum.datum_id)
            out.append(datum)
    return out


Combo = tuple[DatumInput, ...]


def _expand(inp: Input, snaps: Mapping[tuple[str, str], Snapshot]) -> list[Combo]:
    kind = inp.kind
    if kind == "pfs":
        return [(d,) for d in _pfs(inp, snaps)]
    if kind == "cron":
        return [(d,) for d in _pfs(inp, snaps)]
    if kind == "union":
        return [combo for child in inp.children for combo in _expand(child, snaps)]
    if kind == "cross":
        parts = [_expand(child, snaps) for child in inp.children]
        return [tuple(itertools.chain.from_iterable(c)) for c in itertools.product(*parts)]
    keyed = [_by_key(_pfs(child, snaps), kind) for child in inp.children]
    keys = sorted(set().union(*keyed))
    if kind == "group":
        return [tuple(d for child in keyed for d in child.get(key, ())) for key in keys]
    outer = [bool(child.pfs and child.pfs.outer_join) for child in inp.children]
    combos: list[Combo] = []
    for key in keys:
        present = [i for i, child in enumerate(keyed) if key in child]
        if len(present) < len(keyed):
            present = [i for i in present if outer[i]]  # unmatched: only outer-join inputs yield
            if not present:
                continue
        combos.extend(itertools.product(*(keyed[i][key] for i in present)))
    return combos


def _by_key(inputs: list[DatumInput], kind: str) -> dict[str, list[DatumInput]]:
    out: dict[str, list[DatumInput]] = defaultdict(list)
    for d in inputs:
        key = d.join_on if kind == "join" else d.group_by
        out[key or ""].append(d)
    return out


def _pfs(inp: Input, snaps: Mapping[tuple[str, str], Snapshot]) -> list[DatumInput]:
    if inp.pfs is not None:
        pfs = inp.pfs
        name, repo, branch, pattern = pfs.name, pfs.repo, pfs.branch, pfs.glob
        join_on, group_by = pfs.join_on, pfs.group_by
    else:
        assert inp.cron is not None
        name, repo, branch, pattern = inp.cron.name, inp.cron.repo, "master", "/*"
        join_on = group_by = None
    snap = snaps.get((repo, branch))
    if snap is None:
        raise NotFound(f"no listing of {repo}@{branch} was given", repo=repo, branch=branch)
    listing = snap.listing
    glob = compile_glob(pattern)
    if pattern == "/":
        matches: Iterable[tuple[str, tuple[str, ...]]] = [("/", ())] if listing.nodes else []
    else:
        fullmatch = glob.regex.fullmatch
        matches = (
            (path, tuple(g or "" for g in m.groups()))
            for path in listing.candidates(glob.literal_prefix)
            if (m := fullmatch(path)) is not None
        )
    return [
        DatumInput(
            name=name,
            repo=repo,
            branch=branch,
            commit=snap.commit,
            path=path,
            files=listing.below(path),
            join_on=expand_template(join_on, caps) if join_on is not None else None,
            group_by=expand_template(group_by, caps) if group_by is not None else None,
        )
        for path, caps in matches
    ]
