"""JSON shapes of the REST API that are not versioning wire models: request bodies and composite replies.

Values (`RepoInfo`, `CommitInfo`, `FileInfo`, ...) are the wire models themselves, so the REST API and
the bus can never disagree about them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tusk_common.wire.versioning import CommitInfo, FileInfo


class Body(BaseModel):
    """A JSON request body: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CreateRepoBody(Body):
    name: str = Field(description="repo name: 1-63 of letters, digits, '_' and '-'")
    description: str = ""
    update: bool = Field(False, description="update the description of an existing repo")


class CreateBranchBody(Body):
    name: str
    head: str | None = Field(None, description="a ref of the same repo; omitted: an empty branch")


class StartCommitBody(Body):
    branch: str
    parent: str | None = Field(None, description="a ref; default: the branch head")
    description: str = ""


class FinishCommitBody(Body):
    description: str | None = None


class CopyBody(Body):
    src_repo: str | None = Field(None, description="default: the repo of the URL")
    src_ref: str
    src_path: str
    dst_path: str


class VersionReply(Body):
    version: str
    api: str = "v1"


class PutFileReply(Body):
    commit: CommitInfo
    file: FileInfo
    atomic: bool = Field(description="true when the request made (and finished) its own commit")


class BatchReply(Body):
    commit: CommitInfo
    files: int
    bytes: int
    atomic: bool


class ChangeReply(Body):
    commit: CommitInfo
    atomic: bool


class ErrorInfo(Body):
    code: str = Field(description="invalid, not_found, already_exists, conflict, precondition_failed, "
                                  "too_large, corrupted, unavailable, unauthorized, forbidden, internal")
    message: str
    details: dict[str, Any] = Field(default_factory=dict, description="`field` names a bad input")


class ErrorReply(Body):
    error: ErrorInfo


# ------------------------------------------------------------------ bulk uploads (docs/api.md "Bulk uploads")


class ChunkingReply(Body):
    chunker: str = Field(description="the content-defined chunking algorithm: fastcdc-2020")
    hash: str = Field(description="the chunk hash: blake3 (32 bytes)")
    min: int = Field(description="no chunk is smaller (except a file's last)")
    avg: int = Field(description="target average chunk size")
    max: int = Field(description="no chunk is larger")


class MissingBody(Body):
    chunks: list[str] = Field(max_length=10_000, description="hex BLAKE3 digests of chunks")


class MissingReply(Body):
    missing: list[str] = Field(description="those of `chunks` the store does not hold, each once, in order")


class ChunksReply(Body):
    chunks: int = Field(description="chunk frames received (each verified and stored, or already held)")
    bytes: int


class ManifestFile(Body):
    path: str = Field(description="absolute, or relative to ?prefix")
    manifest: str = Field(description="base64 of the packed manifest: 36 bytes per chunk "
                                      "(BLAKE3 digest, big-endian u32 length)")


class ManifestsBody(Body):
    files: list[ManifestFile] = Field(max_length=100_000)
