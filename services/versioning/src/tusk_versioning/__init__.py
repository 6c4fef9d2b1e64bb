"""Tusk versioning service: repos, branches, commits and their Merkle file trees."""

__version__ = "0.1.0"
