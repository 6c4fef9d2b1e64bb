"""Bulk bytes over plain `http.client` connections: big downloads as parallel ranged GETs written in
place with `pwrite` (as `aws s3 cp` does), and local files uploaded with `sendfile`.

httpx moves a body through h11 in 64 KiB Python pieces, copying each a few times; here the kernel does
the moving: `readinto` fills a reusable buffer straight from the socket, and `os.sendfile` streams a file
without its bytes ever entering Python. `Transport` uses this only when it talks to a real server over
the network (never with a test transport), so every request still answers with the same typed errors.
"""

from __future__ import annotations

import http.client
import mmap
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

from tusk_common import errors

Progress = Callable[[int], None]

BUFFER = 4 << 20  # bytes one download part reads from its socket before writing them to the file
PIECE = 64 << 20  # bytes asked for by one ranged GET
SEND_STEP = 16 << 20  # bytes one sendfile call moves between progress reports and cancel checks


class Cancelled(Exception):
    """A transfer stopped because a sibling failed or the caller asked (mapped by the caller)."""


class RangesIgnored(Exception):
    """The server answered a ranged GET with the whole file (200): download it in one request instead."""


@dataclass(frozen=True)
class Reply:
    """A finished request: status, headers (lower-cased names) and the body read whole."""

    status: int
    headers: Mapping[str, str]
    body: bytes


ErrorFactory = Callable[[int, bytes, str], errors.TuskError]
"""Builds the typed error of an error reply: (status, body, "METHOD path")."""


class BulkHttp:
    """Connections to one server for bulk transfers; safe to share between threads."""

    def __init__(self, url: str, *, timeout: float, headers: Mapping[str, str], error: ErrorFactory) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._base = parts.path.rstrip("/")
        self._timeout = timeout
        self._headers = dict(headers)
        self._error = error
        self.url = url

    # ------------------------------------------------------------------ plumbing

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self._timeout)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise errors.Unavailable(
                f"cannot connect to Tusk at {self.url} ({exc}); start a local stack with `tusk up`, "
                "or set TUSK_URL (or --url) to a running server", url=self.url,
            ) from exc
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except TimeoutError as exc:
            raise errors.Unavailable(
                f"Tusk at {self.url} did not answer within {self._timeout:g}s", url=self.url
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise errors.Unavailable(f"connection to Tusk at {self.url} failed: {exc}", url=self.url) from exc

    def _target(self, path: str, params: Mapping[str, str] | None) -> str:
        return self._base + path + (f"?{urlencode(params)}" if params else "")

    def _fail(self, response: http.client.HTTPResponse, what: str) -> errors.TuskError:
        return self._error(response.status, response.read(), what)

    # ------------------------------------------------------------------ upload

    def upload_file(
        self,
        method: str,
        path: str,
        fh: IO[bytes],
        size: int,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> Reply:
        """Send `size` bytes of the regular file `fh` (from its current offset) as the request body."""
        start = fh.tell()

        def body(sock: socket.socket) -> None:
            sent = 0
            while sent < size:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("upload cancelled")
                n = sock.sendfile(fh, start + sent, min(SEND_STEP, size - sent))
                if n == 0:
                    raise errors.Invalid(
                        f"the file ended after {sent} of {size} bytes while it was being sent", field="source"
                    )
                sent += n
                if progress is not None:
                    progress(n)

        return self._exchange(method, path, size, body, params, headers)

    def send(
        self,
        method: str,
        path: str,
        body: Iterable[bytes | memoryview],
        length: int,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send a body given as pieces (each passed to `sendall` as is) of `length` bytes in all."""

        def send_all(sock: socket.socket) -> None:
            sent = 0
            for piece in body:
                sock.sendall(piece)
                sent += len(piece)
            if sent != length:
                raise errors.Internal(f"a body of {length} bytes was announced, {sent} were produced")

        return self._exchange(method, path, length, send_all, params, headers)

    def _exchange(
        self,
        method: str,
        path: str,
        length: int,
        send_body: Callable[[socket.socket], None],
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> Reply:
        """One request on a fresh connection; an error reply the server sent before it read the whole
        body (it then stops reading, and the send fails) is still what is raised."""
        with self._translated():
            conn = self._connect()
            try:
                conn.putrequest(method, self._target(path, params), skip_accept_encoding=True)
                for name, value in {**self._headers, **(headers or {}), "Content-Length": str(length)}.items():
                    conn.putheader(name, value)
                conn.endheaders()
                assert conn.sock is not None
                try:
                    send_body(conn.sock)
                except (BrokenPipeError, ConnectionResetError):
                    early = _early_reply(conn)
                    if early is None or early.status < 400:
                        raise
                    raise self._error(early.status, early.body, f"{method} {path}") from None
                response = conn.getresponse()
                reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                              response.read())
            finally:
                conn.close()
        if reply.status >= 400:
            raise self._error(reply.status, reply.body, f"{method} {path}")
        return reply

    # ------------------------------------------------------------------ download

    def download(
        self,
        path: str,
        fd: int,
        *,
        start: int,
        length: int,
        headers: Mapping[str, str],
        check: Callable[[http.client.HTTPResponse], None],
        parallel: int,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        piece: int = PIECE,
    ) -> int:
        """Fetch bytes `start .. start+length` of `path` with ranged GETs, `parallel` at a time, into the
        regular file `fd` (its byte 0 is `start`; it is sized to `length` here). `check` vets every
        response's headers (same file, same version); the first failure stops the others and is raised.
        """
        pieces = [(off, min(piece, start + length - off)) for off in range(start, start + length, piece)]
        stop = threading.Event()  # set by the first failure; `cancel` is the caller's

        def stopped() -> bool:
            return stop.is_set() or (cancel is not None and cancel.is_set())

        local = threading.local()
        conns: list[http.client.HTTPConnection] = []
        lock = threading.Lock()
        with _Sink(fd, length) as sink:

            def connection() -> http.client.HTTPConnection:
                conn = getattr(local, "conn", None)
                if conn is None:
                    conn = local.conn = self._connect()
                    with lock:
                        conns.append(conn)
                return conn

            def fetch(off: int, n: int) -> None:
                if stopped():
                    raise Cancelled("download cancelled")
                try:
                    fetch_on(connection(), off, n)
                except BaseException:
                    stop.set()  # the others stop at their next read
                    conn = local.__dict__.pop("conn", None)  # never reuse a connection mid-response
                    if conn is not None:
                        conn.close()
                    raise

            def fetch_on(conn: http.client.HTTPConnection, off: int, n: int) -> None:
                with self._translated():
                    conn.request("GET", self._target(path, None),
                                 headers={**self._headers, **headers, "Range": f"bytes={off}-{off + n - 1}"})
                    response = conn.getresponse()
                    if response.status != 206:
                        if response.status >= 400:
                            raise self._fail(response, f"GET {path}")
                        raise RangesIgnored(f"asked for a range of {path}, got HTTP {response.status}")
                    check(response)
                    at = off
                    while at < off + n:
                        if stopped():
                            raise Cancelled("download cancelled")
                        got = sink.receive(response, at - start, min(BUFFER, off + n - at), local)
                        if not got:
                            raise errors.Unavailable(
                                f"the download of {path} stopped after {at - off} bytes of a range",
                                url=self.url,
                            )
                        at += got
                        if progress is not None:
                            progress(got)
                    if response.read(1):
                        raise errors.Internal(f"the server sent more than the range asked for of {path}")

            workers = max(1, min(parallel, len(pieces)))
            pool = ThreadPoolExecutor(workers, thread_name_prefix="tusk-get")
            try:
                futures = [pool.submit(fetch, off, n) for off, n in pieces]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = [f for f in done if f.exception() is not None]
                if failed and all(isinstance(f.exception(), Cancelled) for f in failed):
                    # A sibling saw `stop` before the part that set it had finished failing: wait for the
                    # rest (they stop at their next read) so the real error is the one raised.
                    stop.set()
                    done, _ = wait(futures)
                    failed = [f for f in done if f.exception() is not None]
                if failed:
                    raise _first_real(failed)
            except BaseException:
                stop.set()
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
                for conn in conns:
                    conn.close()
        return length


class _Sink:
    """Where a download's bytes land: the file mapped into memory, so the socket reads straight into its
    pages (one copy), or, where mapping fails, a buffer per thread and `pwrite`."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._map: mmap.mmap | None = None
        self._view: memoryview | None = None
        if size:
            # Reserve the blocks first: a full disk must fail here, not as SIGBUS on a mapped page.
            os.posix_fallocate(fd, 0, size)
            try:
                self._map = mmap.mmap(fd, size)
                self._view = memoryview(self._map)
            except (OSError, ValueError):
                self._map = None

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._view is not None:
            self._view.release()
        if self._map is not None:
            self._map.close()

    def receive(self, response: http.client.HTTPResponse, at: int, n: int, local: threading.local) -> int:
        """Read up to `n` bytes of `response` into the file at `at`; returns how many (0 at its end)."""
        if self._view is not None:
            return response.readinto(self._view[at : at + n])
        buf = getattr(local, "buf", None)
        if buf is None or len(buf) < n:
            buf = local.buf = memoryview(bytearray(max(n, BUFFER)))
        got = response.readinto(buf[:n])
        _pwrite_all(self._fd, buf[:got], at)
        return got


def _early_reply(conn: http.client.HTTPConnection) -> Reply | None:
    try:
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    except (OSError, http.client.HTTPException):
        return None


def _first_real(failed: list[Any]) -> BaseException:
    """The error to report: a real failure rather than a sibling's `Cancelled`."""
    excs = [f.exception() for f in failed]
    return next((e for e in excs if not isinstance(e, Cancelled)), excs[0])


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n
