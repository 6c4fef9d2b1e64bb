"""The error taxonomy shared by every Tusk service, mapped once per transport.

    TuskError                     code            HTTP  retryable
     ├── Invalid                  invalid          400  no   (bad input; `field` names it)
     ├── Unauthorized             unauthorized     401  no
     ├── Forbidden                forbidden        403  no
     ├── NotFound                 not_found        404  no
     ├── AlreadyExists            already_exists   409  no
     ├── Conflict                 conflict         409  no   (state does not allow it)
     ├── PreconditionFailed       precondition_failed 412 no
     ├── TooLarge                 too_large        413  no
     ├── Corrupted                corrupted        500  no   (stored bytes fail their hash)
     ├── Unavailable              unavailable      503  yes  (dependency down or timed out)
     └── Internal                 internal         500  no

Errors travel over NATS as `{"error": {"code", "message", "details"}}` and are rebuilt into the same
class on the other side by `from_wire`, so a caller never matches on message text.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TuskError(Exception):
    """Base of every error Tusk raises on purpose."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details)
        if field is not None:
            self.details["field"] = field

    @property
    def field(self) -> str | None:
        return self.details.get("field")

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, details={self.details!r})"


class Invalid(TuskError):
    code = "invalid"
    http_status = 400


class Unauthorized(TuskError):
    code = "unauthorized"
    http_status = 401


class Forbidden(TuskError):
    code = "forbidden"
    http_status = 403


class NotFound(TuskError):
    code = "not_found"
    http_status = 404


class AlreadyExists(TuskError):
    code = "already_exists"
    http_status = 409


class Conflict(TuskError):
    code = "conflict"
    http_status = 409


class PreconditionFailed(TuskError):
    code = "precondition_failed"
    http_status = 412


class TooLarge(TuskError):
    code = "too_large"
    http_status = 413


class Corrupted(TuskError):
    code = "corrupted"
    http_status = 500


class Unavailable(TuskError):
    code = "unavailable"
    http_status = 503
    retryable = True


class Internal(TuskError):
    code = "internal"
    http_status = 500


_BY_CODE: dict[str, type[TuskError]] = {
    cls.code: cls
    for cls in (
        Invalid,
        Unauthorized,
        Forbidden,
        NotFound,
        AlreadyExists,
        Conflict,
        PreconditionFailed,
        TooLarge,
        Corrupted,
        Unavailable,
        Internal,
    )
}


def from_wire(payload: dict[str, Any]) -> TuskError:
    """Rebuild the typed error a remote service raised."""
    cls = _BY_CODE.get(str(payload.get("code")), Internal)
    details = dict(payload.get("details") or {})
    field = details.pop("field", None)
    return cls(str(payload.get("message", "")), field=field, **details)
