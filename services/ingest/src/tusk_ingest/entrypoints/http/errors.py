"""The one place HTTP maps errors: `TuskError` → `{"error": {code, message, details}}` + its status.

    raised in a handler                      reply
    TuskError (any class)                    exc.http_status, exc.code (416 for Unsatisfiable ranges)
    pydantic ValidationError                 400 invalid, details.field = the bad field
    aiohttp HTTPException (no route, 405,    its status; code not_found / invalid / too_large
      body over client_max_size, ...)
    request body cut short (client gone)     400 invalid, field body (nobody may be listening)
    StreamAborted (body already started)     re-raised: aiohttp closes the connection mid-body
    anything else                            500 internal, logged with its traceback
"""

from __future__ import annotations

import asyncio
import json

import structlog
from aiohttp import ClientConnectionResetError, http_exceptions, web
from pydantic import ValidationError

from tusk_common.bus import validation_to_invalid
from tusk_common.errors import Internal, Invalid, NotFound, TooLarge, TuskError
from tusk_ingest.entrypoints.http.state import Handler

log = structlog.get_logger(__name__)

JSON = "application/json"


class StreamAborted(Exception):
    """A streamed reply failed after its headers were sent: the only honest end is a cut connection."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status  # what the headers already said


def error_response(exc: TuskError, status: int | None = None) -> web.Response:
    body = json.dumps({"error": exc.to_wire()}, separators=(",", ":"), default=str)
    return web.Response(status=status or exc.http_status, body=body.encode(), content_type=JSON)


def _from_http(exc: web.HTTPException) -> TuskError:
    if exc.status == 404:
        return NotFound("no such route", field="path")
    if exc.status == 413:
        return TooLarge(exc.reason or "request body too large", field="body")
    if exc.status == 405:
        return Invalid(f"method not allowed; allowed: {', '.join(sorted(exc.allowed_methods))}"
                       if isinstance(exc, web.HTTPMethodNotAllowed) else exc.reason, field="method")
    if exc.status < 500:
        return Invalid(exc.text or exc.reason, field="request")
    return Internal(exc.reason)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except TuskError as exc:
        return error_response(exc)
    except ValidationError as exc:
        return error_response(validation_to_invalid(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_from_http(exc), exc.status)
        if isinstance(exc, web.HTTPMethodNotAllowed):
            response.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        return response
    except (ClientConnectionResetError, ConnectionResetError, http_exceptions.HttpProcessingError) as exc:
        # The client went away or sent a broken body; the reply is mostly for the log and metrics.
        return error_response(Invalid(f"the request body ended early: {type(exc).__name__}", field="body"))
    except (StreamAborted, asyncio.CancelledError):
        raise
    except Exception as exc:
        log.exception("http.unhandled", method=request.method, path=request.path)
        return error_response(Internal(f"internal error ({type(exc).__name__})"))
