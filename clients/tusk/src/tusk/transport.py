"""The HTTP seam of the SDK: one httpx client, and the one place HTTP failures become `TuskError`s.

Error replies (`{"error": {"code", "message", "details"}}`) are rebuilt into the same class the server
raised (`tusk_common.errors.from_wire`); a reply without that body is classified by its status; a server
that cannot be reached is `Unavailable` with a hint on how to start or find one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any


def _import_httpx_without_its_cli() -> None:
    """`import httpx` also imports httpx's own command line (rich, pygments, click's whole UI) when those
    are installed: a third of the `tusk` command's start-up. That import is optional in httpx (it falls
    back to a stub `httpx.main`), and nothing here uses it: hide it for the one import, then forget it,
    so a later `import httpx._main` elsewhere still works."""
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
    try:
        import httpx  # noqa: F401
    finally:
        if sys.modules.get("httpx._main", 0) is None:
            del sys.modules["httpx._main"]


_import_httpx_without_its_cli()

import httpx  # noqa: E402

from tusk.bulk import BulkHttp  # noqa: E402
from tusk_common import errors  # noqa: E402

DEFAULT_URL = "http://127.0.0.1:7080"

_BY_STATUS: dict[int, type[errors.TuskError]] = {
    400: errors.Invalid,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    408: errors.Unavailable,
    409: errors.Conflict,
    412: errors.PreconditionFailed,
    413: errors.TooLarge,
    416: errors.Invalid,
    502: errors.Unavailable,
    503: errors.Unavailable,
    504: errors.Unavailable,
}


def resolve_url(url: str | None) -> str:
    """The explicit URL, else `TUSK_URL`, else the local default; without a trailing slash."""
    chosen = url or os.environ.get("TUSK_URL") or DEFAULT_URL
    if "://" not in chosen:
        chosen = f"http://{chosen}"
    return chosen.rstrip("/")


def error_from_response(response: httpx.Response) -> errors.TuskError:
    """The typed error an error reply stands for (the body must have been read)."""
    return error_from_reply(
        response.status_code, response.content, f"{response.request.method} {response.url.path}",
        reason=response.reason_phrase,
    )


def error_from_reply(status: int, body: bytes, what: str, *, reason: str = "") -> errors.TuskError:
    """The typed error of an error reply: `{"error": ...}` rebuilt, else classified by `status`."""
    payload: Any = None
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return errors.from_wire(payload["error"])
    cls = _BY_STATUS.get(status, errors.Internal)
    text = body.decode("utf-8", "replace").strip()
    line = text.splitlines()[0][:200] if text else reason
    return cls(f"HTTP {status} from {what}: {line}")


class Transport:
    """Sends requests to one Tusk server and turns every failure into a `TuskError`."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 64,
    ) -> None:
        from tusk import __version__

        self.url = resolve_url(url)
        self.timeout = timeout
        headers = {"User-Agent": f"tusk-python/{__version__}"}
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers=headers,
            follow_redirects=False,
            # Plain http never needs a TLS context: skip loading the CA bundle (~0.1 s at start-up).
            verify=not self.url.startswith("http://"),
        )
        # Bulk bytes bypass httpx, so only when talking to a real server (a test transport sees all).
        self.bulk: BulkHttp | None = None
        if transport is None:
            self.bulk = BulkHttp(self.url, timeout=timeout, headers=headers, error=error_from_reply)

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        passthrough: Collection[int] = (),
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; statuses >= 400 raise unless listed in `passthrough`."""
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        with self._translated():
            response = self._http.request(method, self.url + path, **kwargs)
        if response.status_code >= 400 and response.status_code not in passthrough:
            raise error_from_response(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A response whose body is read incrementally; error replies raise before yielding."""
        with self._translated(), self._http.stream(method, self.url + path, **kwargs) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response)
            yield response

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except httpx.ConnectError as exc:
            raise errors.Unavailable(
                f"cannot connect to Tusk at {self.url} ({_reason(exc)}); "
                "start a local stack with `tusk up`, or set TUSK_URL (or --url) to a running server",
                url=self.url,
            ) from exc
        except httpx.TimeoutException as exc:
            raise errors.Unavailable(
                f"Tusk at {self.url} did not answer within {self.timeout:g}s ({type(exc).__name__})",
                url=self.url,
            ) from exc
        except httpx.TransportError as exc:
            raise errors.Unavailable(
                f"connection to Tusk at {self.url} failed: {_reason(exc)}", url=self.url
            ) from exc


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return text
