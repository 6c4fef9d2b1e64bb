"""The one mapping from errors to S3 (status, code)."""

from __future__ import annotations

import pytest

from tusk_common import errors as base
from tusk_ingest.s3 import errors
from tusk_ingest.s3.errors import to_s3


@pytest.mark.parametrize(("exc", "names_key", "expected"), [
    (errors.NoSuchUpload(), True, (404, "NoSuchUpload")),
    (errors.InvalidRange(), True, (416, "InvalidRange")),
    (errors.EntityTooLarge(), True, (400, "EntityTooLarge")),
    (errors.Unsupported(), False, (501, "NotImplemented")),
    (errors.MethodNotAllowed(), True, (405, "MethodNotAllowed")),
    (errors.SignatureDoesNotMatch(), False, (403, "SignatureDoesNotMatch")),
    (base.NotFound("no such path", path="/a"), True, (404, "NoSuchKey")),
    (base.NotFound("no such repo", repo="images"), True, (404, "NoSuchBucket")),
    (base.NotFound("gone"), False, (404, "NoSuchBucket")),
    (base.AlreadyExists("repo exists"), False, (409, "BucketAlreadyOwnedByYou")),
    (base.Conflict("branch not empty"), False, (409, "BucketNotEmpty")),
    (base.Conflict("a is a file"), True, (409, "OperationAborted")),
    (base.Invalid("bad", field="path"), True, (400, "InvalidArgument")),
    (base.PreconditionFailed("stale"), True, (412, "PreconditionFailed")),
    (base.TooLarge("big"), True, (400, "EntityTooLarge")),
    (base.Forbidden("no"), True, (403, "AccessDenied")),
    (base.Unavailable("nats down"), True, (503, "ServiceUnavailable")),
    (base.Corrupted("chunk hash"), True, (500, "InternalError")),
    (RuntimeError("boom"), True, (500, "InternalError")),
])
def test_mapping(exc: Exception, names_key: bool, expected: tuple[int, str]) -> None:
    info = to_s3(exc, names_key=names_key)
    assert (info.status, info.code) == expected


def test_s3_errors_are_part_of_the_taxonomy() -> None:
    assert isinstance(errors.NoSuchKey(), base.NotFound)
    assert isinstance(errors.BucketNotEmpty(), base.Conflict)
    assert isinstance(errors.BadDigest(), base.Invalid)
    assert errors.NoSuchKey().message == "The specified key does not exist."


def test_internal_details_are_not_shown() -> None:
    assert "secret" not in to_s3(RuntimeError("secret path /etc")).message
    assert "db password" not in to_s3(base.Internal("db password wrong")).message
