"""Replies of the file-writing endpoints that have no model in `tusk_common.wire`, and transfer summaries."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from tusk_common.wire.versioning import CommitInfo, FileInfo, PutResult

__all__ = ["BatchPutResult", "DownloadSummary", "FilePutResult", "PutResult", "UploadSummary"]


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class FilePutResult(_Reply):
    """Reply of `PUT .../files/{path}`: the commit written to and the stored file."""

    commit: CommitInfo
    file: FileInfo | None = None
    atomic: bool


class BatchPutResult(_Reply):
    """Reply of the multipart `POST .../files`."""

    commit: CommitInfo
    files: int
    bytes: int
    atomic: bool


@dataclass(frozen=True)
class UploadSummary:
    """What a multi-file upload did: the commit its files are in (None when there was nothing to send)."""

    commit: CommitInfo | None
    files: int
    bytes: int
    requests: int
    unchanged: int = 0  # files the commit's base already held with the same content: not sent again


@dataclass(frozen=True)
class DownloadSummary:
    """What a recursive download wrote."""

    commit: str | None
    files: int
    bytes: int
