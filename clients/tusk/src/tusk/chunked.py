"""Big files through the chunk protocol (docs/api.md "Chunk uploads"), as restic and borg do it: cut and
hash here with the server's parameters, ask which chunks it lacks, upload only those, then commit each file
as its manifest. A file changed in one place sends about one chunk; an unchanged one sends none.

The work on one file overlaps: a thread reads and cuts a window of chunks, the caller's thread hashes the
previous one, and two senders ask about and upload the ones before, so the server verifies and stores
windows while the next is being hashed here. At most about `WINDOW_BYTES` x 6 of the file is in memory.
"""

from __future__ import annotations

import base64
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import blake3

from tusk import routes
from tusk.sources import Progress, TransferCancelled
from tusk.transport import Transport
from tusk_common.errors import NotFound
from tusk_common.store.chunker import Chunker, file_chunks
from tusk_common.store.manifest import content_id, pack
from tusk_common.wire import bulk

READ_BLOCK = 8 << 20
WINDOW_BYTES = 16 << 20  # chunks asked about (and uploaded) together
MISSING_PER_REQUEST = 10_000
UPLOADS_AT_ONCE = 2  # windows of one file being uploaded at the same time


@dataclass(frozen=True)
class Chunking:
    """How the server cuts files: the client must cut the same way for ids to agree."""

    min: int
    avg: int
    max: int

    def chunker(self) -> Chunker:
        return Chunker(self.min, self.avg, self.max)

    @property
    def key(self) -> str:
        """The parameters as one string: what the stat cache keys its rows by (with the path)."""
        return f"fastcdc-2020/blake3/{self.min}/{self.avg}/{self.max}"


def chunking(t: Transport) -> Chunking | None:
    """The server's chunking, or None when it does not speak the chunk protocol (an older server)."""
    try:
        data = t.json("GET", routes.chunking())
    except NotFound:
        return None
    if data.get("chunker") != "fastcdc-2020" or data.get("hash") != "blake3":
        return None
    return Chunking(int(data["min"]), int(data["avg"]), int(data["max"]))


@dataclass(frozen=True)
class Manifest:
    """A local file as chunks: its packed manifest, size and content id (as the server will compute it)."""

    packed: bytes
    size: int

    @property
    def content_id(self) -> str:
        return content_id(self.packed)


class ChunkedUploads:
    """Uploads of big local files into one repo's chunk store, and the commits of their manifests."""

    def __init__(self, t: Transport, repo: str, params: Chunking) -> None:
        self._t = t
        self._repo = repo
        self.params = params

    def upload(self, path: Path, progress: Progress | None = None, cancel: threading.Event | None = None,
               *, ask: bool = True) -> Manifest:
        """Send the chunks of `path` the server lacks; returns the file's manifest (nothing committed).

        With `ask=False` every chunk is sent without asking first (the server still stores each once):
        cheaper for a file that is new to the server.
        """
        entries: list[tuple[bytes, int]] = []
        windows: queue.Queue[list[memoryview] | BaseException | None] = queue.Queue(1)
        stop = threading.Event()

        def produce() -> None:
            try:
                for window in _windows(path, self.params, stop):
                    windows.put(window)
                windows.put(None)
            except BaseException as exc:  # handed to the consuming thread, which raises it
                windows.put(exc)

        def send(window: Window) -> None:  # in a sender thread: asking overlaps the hashing too
            if ask:
                missing = set(self.missing([digest for digest, _ in window]))
                window = [(d, data) for d, data in window if d in missing]
            self.put_chunks(window)

        producer = threading.Thread(target=produce, name="tusk-chunker", daemon=True)
        producer.start()
        sender = _Sender(send, progress)
        try:
            while (chunks := windows.get()) is not None:
                if isinstance(chunks, BaseException):
                    raise chunks
                if cancel is not None and cancel.is_set():
                    raise TransferCancelled("upload cancelled")
                # Hashed here, while the producer cuts the next window and the senders upload the last.
                window = [(blake3.blake3(data).digest(), data) for data in chunks]
                entries += [(digest, len(data)) for digest, data in window]
                sender.send(window, sum(len(data) for data in chunks))
            sender.finish()
        finally:
            stop.set()
            sender.close()
            while producer.is_alive():  # unblock a producer waiting on the full queue
                try:
                    windows.get_nowait()
                except queue.Empty:
                    producer.join(0.05)
        return Manifest(pack(entries), sum(n for _, n in entries))

    def content_id_of(self, data: bytes) -> str:
        """The content id the server gives these bytes (same chunking, same hashes)."""
        return content_id(self.manifest_of(data))

    def manifest_of(self, data: bytes) -> bytes:
        """The packed manifest the server makes of these bytes."""
        if len(data) < self.params.min:  # one chunk (or none)
            chunks: list[bytes | memoryview] = [data] if data else []
        else:
            chunker = self.params.chunker()
            chunks = [*chunker.feed(data), *chunker.finish()]
        return pack((blake3.blake3(c).digest(), len(c)) for c in chunks)

    def missing(self, digests: Sequence[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for i in range(0, len(digests), MISSING_PER_REQUEST):
            part = [d.hex() for d in digests[i : i + MISSING_PER_REQUEST]]
            reply = self._t.json("POST", routes.chunks(self._repo, "missing"), json={"chunks": part})
            out += [bytes.fromhex(h) for h in reply["missing"]]
        return out

    def put_chunks(self, chunks: Sequence[tuple[bytes, memoryview]]) -> None:
        if not chunks:
            return
        pieces: list[bytes | memoryview] = [bulk.CHUNKS_MAGIC]
        for digest, data in chunks:
            pieces += (bulk.frame_header(digest, len(data)), data)
        pieces.append(bulk.frames_end())
        length = sum(len(p) for p in pieces)
        headers = {"Content-Type": bulk.CHUNKS_MEDIA}
        url = routes.chunks(self._repo)
        if self._t.bulk is not None:
            self._t.bulk.send("POST", url, pieces, length, headers=headers)
        else:
            self._t.request("POST", url, content=b"".join(pieces), headers=headers)

    def commit(self, ref: str, files: Sequence[tuple[str, Manifest]], message: str | None = None) -> object:
        """Put the files (destination, manifest) into `ref`: one commit, or staged into an open one."""
        body = {"files": [{"path": dest, "manifest": base64.b64encode(m.packed).decode("ascii")}
                          for dest, m in files]}
        params = {"message": message} if message else None
        return self._t.json("POST", routes.manifests(self._repo, ref), json=body, params=params)


Window = Sequence[tuple[bytes, memoryview]]


class _Sender:
    """Uploads hashed windows from threads of their own, `UPLOADS_AT_ONCE` at a time (the server stores
    one while it receives the next; a manifest is committed only after all of them, so their order does
    not matter); `send` waits only while one more is queued. The first failure is raised by the next
    `send` or `finish`."""

    def __init__(self, put: Callable[[Window], None], progress: Progress | None,
                 uploads: int = UPLOADS_AT_ONCE) -> None:  # fmt: skip
        self._put = put
        self._progress = progress
        self._queue: queue.Queue[tuple[Window, int] | None] = queue.Queue(1)
        self._failure: BaseException | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"tusk-chunk-sender-{i}", daemon=True) for i in range(uploads)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._failure is not None or self._stop.is_set():
                continue  # drain: the caller is told (or is stopping) and sends no more
            window, size = item
            try:
                self._put(window)
            except BaseException as exc:
                with self._lock:
                    self._failure = self._failure or exc
                continue
            if self._progress is not None:
                self._progress(size)

    def send(self, window: Window, size: int) -> None:
        """Queue a window (`size`: the file bytes it covers, for progress, even if nothing is sent)."""
        self._raise()
        while True:
            try:
                self._queue.put((window, size), timeout=0.1)
                return
            except queue.Full:
                self._raise()

    def finish(self) -> None:
        """Wait until every queued window is uploaded; raise the first failure."""
        self._end()
        self._raise()

    def close(self) -> None:
        """Stop (after a failure or a cancel) without sending what is still queued."""
        self._stop.set()
        self._end()

    def _end(self) -> None:
        alive = [t for t in self._threads if t.is_alive()]
        for _ in alive:
            self._queue.put(None)  # one end mark per thread: each takes one and leaves
        for thread in alive:
            thread.join()

    def _raise(self) -> None:
        if self._failure is not None:
            raise self._failure


def _windows(path: Path, params: Chunking, stop: threading.Event) -> Iterator[list[memoryview]]:
    """The file's chunks, in windows of about `WINDOW_BYTES`."""
    window: list[memoryview] = []
    size = 0
    with open(os.fspath(path), "rb") as fh:
        for data in file_chunks(fh, params.min, params.avg, params.max, block=READ_BLOCK):
            if stop.is_set():
                return
            window.append(data)
            size += len(data)
            if size >= WINDOW_BYTES:
                yield window
                window, size = [], 0
    if window:
        yield window
