"""RPC contract of the lineage service: `tusk.rpc.lineage.<METHOD>`.

A lineage answer is a graph of typed nodes (commits, files, datum runs, jobs) and edges that point from
what was derived to what it was derived from (`output -> input`), whichever direction was asked. Nodes
carry the depth at which the walk first reached them. `rendered` holds the same graph as text when a
`format` other than `json` was asked (tree, Graphviz DOT, Mermaid).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from tusk_common.wire.base import Request, Wire

SERVICE = "lineage"

Direction = Literal["upstream", "downstream"]
Format = Literal["json", "tree", "dot", "mermaid"]
NodeKind = Literal["commit", "file", "datum", "job"]
EdgeKind = Literal["input", "made_by", "read"]
MAX_DEPTH = 100


# ---------------------------------------------------------------- values


class PipelineVersionRef(Wire):
    """The code that made something: a pipeline version, as the scheduler recorded it."""

    pipeline: str
    version: int
    spec_hash: str | None = None
    transform_hash: str | None = None
    cmd: list[str] = Field(default_factory=list)
    image: str | None = None
    image_digest: str | None = None  # the digest `image` pins (`…@sha256:<hex>`); None for a tag alone


class LineageNode(Wire):
    """One node; which fields are set depends on `kind` (the lineage service's graph is made of these).

    - commit: repo, commit, branch, commit_set, origin, state, error
    - file: repo, commit, path, content_id, size (the file as it is in that commit)
    - datum: pipeline, job, datum_id, datum_hash, pipeline_version (one run of a datum)
    - job: pipeline, job, state, commit_set, pipeline_version
    """

    key: str
    kind: NodeKind
    depth: int = 0
    repo: str | None = None
    commit: str | None = None
    branch: str | None = None
    path: str | None = None
    content_id: str | None = None
    size: int | None = None
    commit_set: str | None = None
    origin: str | None = None
    state: str | None = None
    error: str | None = None
    pipeline: str | None = None
    job: str | None = None
    datum_id: str | None = None
    datum_hash: str | None = None
    pipeline_version: PipelineVersionRef | None = None


class LineageEdge(Wire):
    """`src` was derived from `dst`: file -made_by-> datum -read-> file; commit -made_by-> job -input-> commit."""

    src: str
    dst: str
    kind: EdgeKind


class LineageGraph(Wire):
    root: str | None = None  # the node asked about (None for a commit set)
    direction: Direction | Literal["both"] = "upstream"
    depth: int = 0  # the depth limit that was applied
    truncated: bool = False  # the walk stopped at the depth limit with more to see
    nodes: list[LineageNode] = Field(default_factory=list)
    edges: list[LineageEdge] = Field(default_factory=list)


class LineageReply(Wire):
    graph: LineageGraph
    rendered: str | None = None  # the graph as text for format tree / dot / mermaid


class ReproduceStep(Wire):
    """How one output commit was made: its job, the code, and the exact input commits."""

    repo: str
    commit: str
    commit_set: str
    job: str
    job_state: str | None = None
    pipeline_version: PipelineVersionRef
    inputs: list[LineageNode] = Field(default_factory=list)  # commit nodes
    spec: dict[str, object] | None = None  # the canonical spec of that version, when known


class ReproduceCheck(Wire):
    """The outcome of `--run`: the same step run again into a scratch pipeline and branch, then compared."""

    scratch_pipeline: str
    scratch_repo: str
    scratch_commit: str | None = None
    job: str | None = None
    job_state: str | None = None
    identical: bool = False
    same: int = 0
    differing: list[str] = Field(default_factory=list)  # paths whose content differs
    missing: list[str] = Field(default_factory=list)  # in the original, not in the re-run
    extra: list[str] = Field(default_factory=list)  # in the re-run, not in the original
    cleaned_up: bool = False


class ReproducePlan(Wire):
    repo: str
    commit: str
    user_commit: bool = False  # a commit made by a user: there is nothing to re-run
    steps: list[ReproduceStep] = Field(default_factory=list)  # the asked commit first, then upstream
    roots: list[LineageNode] = Field(default_factory=list)  # the user commits everything came from
    check: ReproduceCheck | None = None


class RebuildReport(Wire):
    commits: int = 0
    versions: int = 0  # file versions recorded
    jobs: int = 0
    runs: int = 0
    pipelines: int = 0
    runs_without_outputs: int = 0  # processed datums whose outputs could not be found
    seconds: float = 0.0


class LineageStats(Wire):
    commits: int = 0
    jobs: int = 0
    runs: int = 0
    versions: int = 0
    run_inputs: int = 0
    produced: int = 0
    events: int = 0  # events applied (each once)
    pending_jobs: int = 0  # finished jobs whose provenance is not attached yet


# ---------------------------------------------------------------- requests


class _L(Request):
    SERVICE: ClassVar[str] = SERVICE


class QueryLineage(_L):
    """Lineage of a commit (`path` None) or of one file in it, up to `depth` hops."""

    METHOD: ClassVar[str] = "query"
    REPLY: ClassVar[type] = LineageReply
    repo: str
    ref: str
    path: str | None = None
    direction: Direction = "upstream"
    depth: int = Field(10, ge=1, le=MAX_DEPTH)
    format: Format = "json"


class CommitSetLineage(_L):
    """Every commit, job and edge of one commit set: the whole cascade of one change."""

    METHOD: ClassVar[str] = "commitset"
    REPLY: ClassVar[type] = LineageReply
    commit_set: str
    format: Format = "json"


class Reproduce(_L):
    """The exact inputs and pipeline versions that made a commit; with `run`, run the last step again."""

    METHOD: ClassVar[str] = "reproduce"
    REPLY: ClassVar[type] = ReproducePlan
    repo: str
    ref: str
    run: bool = False
    keep: bool = False  # keep the scratch pipeline and branches after `run`
    timeout: float = Field(600.0, gt=0, le=86_400)


class Rebuild(_L):
    """Drop the graph and rebuild it from the versioning and scheduler state."""

    METHOD: ClassVar[str] = "rebuild"
    REPLY: ClassVar[type] = RebuildReport


class GetStats(_L):
    METHOD: ClassVar[str] = "stats"
    REPLY: ClassVar[type] = LineageStats


ALL_REQUESTS: tuple[type[Request], ...] = (QueryLineage, CommitSetLineage, Reproduce, Rebuild, GetStats)
