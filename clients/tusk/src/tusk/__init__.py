"""Tusk's Python SDK: `tusk.Client` over the REST API, and the `tusk` command (`tusk.cli`)."""

from __future__ import annotations

from tusk_common.errors import (
    AlreadyExists,
    Conflict,
    Invalid,
    NotFound,
    PreconditionFailed,
    TooLarge,
    TuskError,
    Unavailable,
)

__version__ = "0.1.0"  # the one place it is written; pyproject.toml reads it from here

from tusk.client import Client, CommitHandle
from tusk.results import DownloadSummary, FilePutResult, UploadSummary
from tusk.uri import Address, parse

__all__ = [
    "Address",
    "AlreadyExists",
    "Client",
    "CommitHandle",
    "Conflict",
    "DownloadSummary",
    "FilePutResult",
    "Invalid",
    "NotFound",
    "PreconditionFailed",
    "TooLarge",
    "TuskError",
    "Unavailable",
    "UploadSummary",
    "__version__",
    "parse",
]
