"""Bucket names and request addressing: which bucket and key an S3 request names.

Buckets (ARCHITECTURE §6): `REPO` is the repo's default branch, `BRANCH.REPO` a branch, and
`COMMIT.BRANCH.REPO` a read-only snapshot. Requests address them path-style (`/bucket/key`) or
virtual-host-style (`Host: bucket.BASE_DOMAIN[:port]`, `/key`) when a base domain is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from tusk_common.errors import Invalid
from tusk_common.naming import check_name, is_commit_id, normalize_path
from tusk_ingest.s3.errors import InvalidArgument, InvalidBucketName


@dataclass(frozen=True, slots=True)
class Bucket:
    """A parsed bucket name. `branch` None means the repo's default branch."""

    repo: str
    branch: str | None = None
    commit: str | None = None

    @property
    def read_only(self) -> bool:
        return self.commit is not None

    @property
    def name(self) -> str:
        if self.commit is not None:
            return f"{self.commit}.{self.branch}.{self.repo}"
        if self.branch is not None:
            return f"{self.branch}.{self.repo}"
        return self.repo

    def __str__(self) -> str:
        return self.name


def parse_bucket(name: str) -> Bucket:
    """`REPO`, `BRANCH.REPO` or `COMMIT.BRANCH.REPO`; anything else is `InvalidBucketName`."""
    parts = name.split(".")
    if not name or len(parts) > 3:
        raise InvalidBucketName(f"bucket {name!r} is not REPO, BRANCH.REPO or COMMIT.BRANCH.REPO",
                                bucket=name)
    try:
        repo = check_name(parts[-1], field="repo")
        branch = check_name(parts[-2], field="branch") if len(parts) >= 2 else None
    except Invalid as e:
        raise InvalidBucketName(f"bucket {name!r}: {e.message}", bucket=name) from e
    commit = None
    if len(parts) == 3:
        commit = parts[0]
        if not is_commit_id(commit):
            raise InvalidBucketName(f"bucket {name!r}: {commit!r} is not a commit id (32 hex digits)",
                                    bucket=name)
    return Bucket(repo=repo, branch=branch, commit=commit)


@dataclass(frozen=True, slots=True)
class Address:
    """What a request names: no bucket (the service), a bucket, or an object in a bucket."""

    bucket_name: str | None
    key: str | None
    virtual_host: bool = False

    @property
    def resource(self) -> str:
        """The S3 `Resource` of error documents: `/bucket/key`."""
        if self.bucket_name is None:
            return "/"
        return f"/{self.bucket_name}/{self.key}" if self.key is not None else f"/{self.bucket_name}"


class Addressing:
    """Splits a request's Host and raw path into bucket and key, path- or virtual-host-style."""

    def __init__(self, base_domain: str | None = None) -> None:
        self._suffix = "." + base_domain.strip(".").lower() if base_domain else None

    def vhost_bucket(self, host: str | None) -> str | None:
        """The bucket a `Host` header names under the base domain, or None for path-style."""
        if not self._suffix or not host:
            return None
        hostname = _strip_port(host).lower()
        if hostname.endswith(self._suffix) and len(hostname) > len(self._suffix):
            return hostname[: -len(self._suffix)]
        return None

    def resolve(self, host: str | None, raw_path: str) -> Address:
        """The address of a request; `raw_path` is the path as sent (percent-encoded, no query)."""
        try:
            path = unquote(raw_path.split("?", 1)[0], errors="strict")
        except UnicodeDecodeError as e:
            raise InvalidArgument("the request path is not valid UTF-8 once decoded") from e
        vhost = self.vhost_bucket(host)
        if vhost is not None:
            key = path[1:] if path.startswith("/") else path
            return Address(bucket_name=vhost, key=key or None, virtual_host=True)
        rest = path[1:] if path.startswith("/") else path
        if not rest:
            return Address(bucket_name=None, key=None)
        bucket, sep, key = rest.partition("/")
        return Address(bucket_name=bucket, key=key if sep and key else None)


def _strip_port(host: str) -> str:
    if host.startswith("["):  # IPv6 literal
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def key_path(key: str) -> str:
    """The file path of a key, which must be canonical (`a/b`, not `a//b`, `./a` or `a/`)."""
    try:
        path = normalize_path("/" + key, field="key", allow_root=False)
    except Invalid as e:
        raise InvalidArgument(f"key {key!r} is not a file path: {e.message}", field="key") from e
    if path != "/" + key:
        raise InvalidArgument(f"key {key!r} is not a canonical file path", field="key")
    return path
