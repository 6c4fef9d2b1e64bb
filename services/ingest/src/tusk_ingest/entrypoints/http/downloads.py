"""`GET|HEAD /api/v1/repos/{repo}/refs/{ref}/files/{path}`: stream a file out of the chunk store.

Single byte ranges (206), `If-None-Match` (304) and `If-Range` are honoured. The first block is read
before the headers go out, so a corrupted file found at once is a proper 500 naming the file and commit.
Corruption found later cannot be reported in-band: the connection is cut, so a client never takes a
short body for the whole file (Content-Length says how much was promised).
"""

from __future__ import annotations

import mimetypes
import socket

import structlog
from aiohttp import web

from tusk_common.errors import Corrupted, Internal, Invalid
from tusk_ingest import ranges
from tusk_ingest.auth import Action
from tusk_ingest.entrypoints.http import params, state
from tusk_ingest.entrypoints.http.errors import StreamAborted, error_response
from tusk_ingest.entrypoints.http.routes import Param, Route

log = structlog.get_logger(__name__)

_BIG_BODY = 1 << 20
_SEND_BUFFER = 4 << 20  # kernel send buffer of a big download's socket
_NOT_MODIFIED_HEADERS = ("ETag", "X-Tusk-Commit", "X-Tusk-Content-Id", "Accept-Ranges")


async def get_file(request: web.Request) -> web.StreamResponse:
    repo, ref, path = params.repo(request), params.ref(request), params.file_path(request)
    deps = state.deps(request)
    info = await deps.versioning.inspect_file(repo, ref, path)
    if info.type == "dir":
        raise Invalid(f"{path} is a directory: list it with /tree", field="path", path=path)
    content = info.content
    if content is None:
        raise Internal(f"versioning returned no content for {path}", path=path, commit=info.commit)
    tag = ranges.etag(content)
    headers = {
        "ETag": tag,
        "Accept-Ranges": "bytes",
        "X-Tusk-Commit": info.commit,
        "X-Tusk-Content-Id": content.id,
        "Content-Type": mimetypes.guess_type(path)[0] or "application/octet-stream",
    }
    if ranges.none_match(request.headers.get("If-None-Match"), tag):
        return web.Response(status=304, headers={k: headers[k] for k in _NOT_MODIFIED_HEADERS})
    if_range = request.headers.get("If-Range")
    try:
        span = ranges.parse_range(request.headers.get("Range"), content.size)
    except ranges.Unsatisfiable as exc:
        refusal = error_response(exc)
        refusal.headers["Content-Range"] = f"bytes */{content.size}"
        return refusal
    if span is not None and if_range is not None and if_range.strip() != tag:
        span = None  # the client's partial copy is stale: send everything
    offset, length = (span.start, span.length) if span else (0, content.size)
    response = web.StreamResponse(status=206 if span else 200, headers=headers)
    response.content_length = length
    if span is not None:
        response.headers["Content-Range"] = span.content_range()
    if request.method == "HEAD":
        await response.prepare(request)
        await response.write_eof()
        return response

    blocks = deps.store.read(content, offset, length)
    sent = 0
    try:
        try:
            first = await anext(blocks, None)
        except Corrupted as exc:
            raise Corrupted(f"{path} at commit {info.commit} is corrupted: {exc.message}",
                            **{**exc.details, "path": path, "commit": info.commit, "repo": repo}) from exc
        await response.prepare(request)
        if length > _BIG_BODY:
            _widen_send_buffer(request)
        block = first
        while block is not None:
            await response.write(block)
            sent += len(block)
            block = await anext(blocks, None)
        await response.write_eof()
    except (Corrupted, OSError) as exc:
        if not response.prepared:
            raise
        # Headers (and maybe bytes) are out: cutting the connection is the only honest signal left.
        if isinstance(exc, Corrupted):
            log.error("download.corrupted", repo=repo, path=path, commit=info.commit, sent=sent,
                      **exc.details)
        raise StreamAborted(f"download of {path} stopped after {sent} of {length} bytes",
                            status=response.status) from exc
    finally:
        deps.metrics.bytes_out.inc(sent)
        await blocks.aclose()  # type: ignore[attr-defined]  # an async generator: closing it stops its read-ahead
    return response


def _widen_send_buffer(request: web.Request) -> None:
    """Let the kernel take whole chunks: whatever `send` leaves over is copied into the transport's
    buffer, and every later partial send moves the rest of that buffer down (Python 3.11 keeps it in
    one bytearray), so a big body costs far less CPU when the socket buffer holds several chunks."""
    sock = request.transport.get_extra_info("socket") if request.transport is not None else None
    if sock is None:
        return
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) < _SEND_BUFFER:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
    except OSError:
        pass  # not a TCP socket, or not allowed: the default buffer works, only slower


_F = "/repos/{repo}/refs/{ref}/files/{path:.*}"
_HEADERS = (
    Param("Range", {"type": "string"}, "one range: bytes=a-b, bytes=a-, bytes=-n", where="header"),
    Param("If-None-Match", {"type": "string"}, "ETag of a copy the client has (304)", where="header"),
    Param("If-Range", {"type": "string"}, "ETag the Range applies to", where="header"),
)

ROUTES = (
    Route("GET", _F, get_file, "getFile", "Download a file (streamed; single ranges)", "files",
          Action.REPO_READ, reply_media="octet-stream", headers=_HEADERS, errors=(400, 404, 416, 500, 503),
          description="200 or 206 raw bytes with ETag, Content-Length, Accept-Ranges, X-Tusk-Commit and "
                      "X-Tusk-Content-Id; 304 when If-None-Match matches; a directory is 400."),
    Route("HEAD", _F, get_file, "headFile", "Headers of a file download", "files", Action.REPO_READ,
          reply_media="octet-stream", headers=_HEADERS, errors=(400, 404, 416, 503)),
)
