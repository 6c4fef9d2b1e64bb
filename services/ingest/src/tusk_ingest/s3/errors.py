"""S3 errors, and the one mapping from any exception to an S3 (HTTP status, code, message).

S3-specific errors subclass the shared taxonomy, so code that does not know S3 still handles them:

    tusk_common.errors            S3 errors defined here (code, status)
     ├── Invalid                  InvalidArgument 400, InvalidBucketName, InvalidPart, InvalidPartOrder,
     │                            InvalidRange 416, InvalidDigest, BadDigest, XAmzContentSHA256Mismatch,
     │                            MalformedXML, EntityTooSmall, IncompleteBody, InvalidRequest,
     │                            AuthorizationHeaderMalformed, MetadataTooLarge, KeyTooLongError
     ├── Forbidden                AccessDenied 403, SignatureDoesNotMatch, InvalidAccessKeyId,
     │                            RequestTimeTooSkewed, MethodNotAllowed 405
     ├── NotFound                 NoSuchBucket 404, NoSuchKey, NoSuchUpload, NoSuchVersion
     ├── AlreadyExists            BucketAlreadyOwnedByYou 409
     ├── Conflict                 BucketNotEmpty 409, OperationAborted 409
     ├── PreconditionFailed       PreconditionFailed 412
     ├── TooLarge                 EntityTooLarge 400
     └── Internal                 Unsupported: NotImplemented 501

A driver raises either these classes or plain `tusk_common.errors` ones; `to_s3` turns a plain
`NotFound` into NoSuchBucket or NoSuchKey from its structured details and the request's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from tusk_common import errors as base


class S3Error(base.TuskError):
    """Mixin of every error that already knows its S3 code."""

    s3_code: ClassVar[str] = "InternalError"
    s3_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "We encountered an internal error. Please try again."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.default_message, **details)


def _error(name: str, parent: type[base.TuskError], code: str, status: int, message: str) -> type[S3Error]:
    return type(
        name,
        (S3Error, parent),
        {"s3_code": code, "s3_status": status, "default_message": message, "__module__": __name__},
    )


# 400
InvalidArgument = _error("InvalidArgument", base.Invalid, "InvalidArgument", 400, "Invalid Argument")
InvalidBucketName = _error(
    "InvalidBucketName", base.Invalid, "InvalidBucketName", 400, "The specified bucket is not valid."
)
InvalidPart = _error(
    "InvalidPart", base.Invalid, "InvalidPart", 400,
    "One or more of the specified parts could not be found. The part may not have been uploaded, or "
    "the specified entity tag may not match the part's entity tag.",
)
InvalidPartOrder = _error(
    "InvalidPartOrder", base.Invalid, "InvalidPartOrder", 400,
    "The list of parts was not in ascending order. The parts list must be specified in order by part "
    "number.",
)
InvalidRange = _error(
    "InvalidRange", base.Invalid, "InvalidRange", 416, "The requested range is not satisfiable"
)
InvalidDigest = _error(
    "InvalidDigest", base.Invalid, "InvalidDigest", 400, "The Content-MD5 you specified is not valid."
)
BadDigest = _error(
    "BadDigest", base.Invalid, "BadDigest", 400,
    "The Content-MD5 you specified did not match what we received.",
)
XAmzContentSHA256Mismatch = _error(
    "XAmzContentSHA256Mismatch", base.Invalid, "XAmzContentSHA256Mismatch", 400,
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
)
MalformedXML = _error(
    "MalformedXML", base.Invalid, "MalformedXML", 400,
    "The XML you provided was not well-formed or did not validate against our published schema.",
)
EntityTooSmall = _error(
    "EntityTooSmall", base.Invalid, "EntityTooSmall", 400,
    "Your proposed upload is smaller than the minimum allowed object size.",
)
IncompleteBody = _error(
    "IncompleteBody", base.Invalid, "IncompleteBody", 400,
    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
)
InvalidRequest = _error("InvalidRequest", base.Invalid, "InvalidRequest", 400, "Invalid Request")
AuthorizationHeaderMalformed = _error(
    "AuthorizationHeaderMalformed", base.Invalid, "AuthorizationHeaderMalformed", 400,
    "The authorization header you provided is invalid.",
)
MetadataTooLarge = _error(
    "MetadataTooLarge", base.Invalid, "MetadataTooLarge", 400,
    "Your metadata headers exceed the maximum allowed metadata size.",
)
KeyTooLongError = _error("KeyTooLongError", base.Invalid, "KeyTooLongError", 400, "Your key is too long.")
# 403 / 405
AccessDenied = _error("AccessDenied", base.Forbidden, "AccessDenied", 403, "Access Denied")
SignatureDoesNotMatch = _error(
    "SignatureDoesNotMatch", base.Forbidden, "SignatureDoesNotMatch", 403,
    "The request signature we calculated does not match the signature you provided. Check your key "
    "and signing method.",
)
InvalidAccessKeyId = _error(
    "InvalidAccessKeyId", base.Forbidden, "InvalidAccessKeyId", 403,
    "The AWS Access Key Id you provided does not exist in our records.",
)
RequestTimeTooSkewed = _error(
    "RequestTimeTooSkewed", base.Forbidden, "RequestTimeTooSkewed", 403,
    "The difference between the request time and the server's time is too large.",
)
MethodNotAllowed = _error(
    "MethodNotAllowed", base.Forbidden, "MethodNotAllowed", 405,
    "The specified method is not allowed against this resource.",
)
# 404
NoSuchBucket = _error("NoSuchBucket", base.NotFound, "NoSuchBucket", 404, "The specified bucket does not exist")
NoSuchKey = _error("NoSuchKey", base.NotFound, "NoSuchKey", 404, "The specified key does not exist.")
NoSuchUpload = _error(
    "NoSuchUpload", base.NotFound, "NoSuchUpload", 404,
    "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart "
    "upload might have been aborted or completed.",
)
NoSuchVersion = _error(
    "NoSuchVersion", base.NotFound, "NoSuchVersion", 404,
    "The specified version does not exist.",
)
# 409
BucketAlreadyOwnedByYou = _error(
    "BucketAlreadyOwnedByYou", base.AlreadyExists, "BucketAlreadyOwnedByYou", 409,
    "Your previous request to create the named bucket succeeded and you already own it.",
)
BucketNotEmpty = _error(
    "BucketNotEmpty", base.Conflict, "BucketNotEmpty", 409, "The bucket you tried to delete is not empty"
)
OperationAborted = _error(
    "OperationAborted", base.Conflict, "OperationAborted", 409,
    "A conflicting conditional operation is currently in progress against this resource.",
)
# 412 / 413 / 501
PreconditionFailed = _error(
    "PreconditionFailed", base.PreconditionFailed, "PreconditionFailed", 412,
    "At least one of the pre-conditions you specified did not hold",
)
EntityTooLarge = _error(
    "EntityTooLarge", base.TooLarge, "EntityTooLarge", 400,
    "Your proposed upload exceeds the maximum allowed object size.",
)
Unsupported = _error(
    "Unsupported", base.Internal, "NotImplemented", 501,
    "A header or query you provided implies functionality that is not implemented.",
)


@dataclass(frozen=True, slots=True)
class S3ErrorInfo:
    """What the client is told: the status line, the S3 code and a message safe to show."""

    status: int
    code: str
    message: str
    details: dict[str, Any]


# Plain taxonomy classes, most specific first (the MRO walk in `to_s3` picks the first hit).
_BY_CLASS: tuple[tuple[type[base.TuskError], int, str], ...] = (
    (base.Invalid, 400, "InvalidArgument"),
    (base.Unauthorized, 403, "AccessDenied"),
    (base.Forbidden, 403, "AccessDenied"),
    (base.NotFound, 404, "NoSuchKey"),
    (base.AlreadyExists, 409, "BucketAlreadyOwnedByYou"),
    (base.Conflict, 409, "OperationAborted"),
    (base.PreconditionFailed, 412, "PreconditionFailed"),
    (base.TooLarge, 400, "EntityTooLarge"),
    (base.Unavailable, 503, "ServiceUnavailable"),
    (base.Corrupted, 500, "InternalError"),
    (base.Internal, 500, "InternalError"),
)
_BUCKET_DETAILS = frozenset({"bucket", "repo", "branch", "commit"})
_INTERNAL_MESSAGE = "We encountered an internal error. Please try again."


def to_s3(exc: BaseException, *, names_key: bool = False) -> S3ErrorInfo:
    """The S3 answer for `exc`; `names_key` tells whether the request addressed an object."""
    if isinstance(exc, S3Error):
        return S3ErrorInfo(exc.s3_status, exc.s3_code, exc.message, exc.details)
    if not isinstance(exc, base.TuskError):
        return S3ErrorInfo(500, "InternalError", _INTERNAL_MESSAGE, {})
    status, code = 500, "InternalError"
    for cls, st, c in _BY_CLASS:
        if isinstance(exc, cls):
            status, code = st, c
            break
    about_bucket = bool(_BUCKET_DETAILS & (set(exc.details) | {exc.field or ""}))
    if isinstance(exc, base.NotFound) and (about_bucket or not names_key):
        code = "NoSuchBucket"
    elif isinstance(exc, base.Conflict) and not names_key:
        code = "BucketNotEmpty"
    message = _INTERNAL_MESSAGE if status >= 500 and status != 503 else exc.message
    return S3ErrorInfo(status, code, message, exc.details)
