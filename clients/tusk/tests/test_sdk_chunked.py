"""The chunk protocol's upload pipeline: windows are uploaded by sender threads, two at a time, while the
next one is hashed; a failed upload stops the file and is raised to the caller."""

from __future__ import annotations

import threading

import pytest

from tusk.chunked import _Sender
from tusk_common.errors import Unavailable


def _window(n: int) -> list[tuple[bytes, memoryview]]:
    return [(bytes([n]) * 32, memoryview(bytes([n]) * 10))]


def test_every_window_is_uploaded_once_and_progress_counts_every_one() -> None:
    sent: list[int] = []
    progress: list[int] = []
    lock = threading.Lock()

    def put(window: list[tuple[bytes, memoryview]]) -> None:
        with lock:
            sent.append(window[0][0][0])

    sender = _Sender(put, progress.append)
    for n in range(20):
        sender.send(_window(n), 10)
    sender.finish()
    assert sorted(sent) == list(range(20))
    assert progress == [10] * 20


def test_one_sender_uploads_in_order() -> None:
    sent: list[int] = []
    sender = _Sender(lambda w: sent.append(w[0][0][0]), None, uploads=1)
    for n in range(5):
        sender.send(_window(n), 10)
    sender.finish()
    assert sent == [0, 1, 2, 3, 4]


def test_two_windows_upload_at_once_while_the_caller_hashes_the_next() -> None:
    both = threading.Barrier(2, timeout=5)  # passes only when two uploads run at the same time

    def put(window: list[tuple[bytes, memoryview]]) -> None:
        both.wait()

    sender = _Sender(put, None)
    for n in range(4):
        sender.send(_window(n), 10)
    sender.finish()


def test_a_failed_upload_is_raised_and_nothing_after_it_is_sent() -> None:
    sent: list[int] = []

    def put(window: list[tuple[bytes, memoryview]]) -> None:
        n = window[0][0][0]
        if n == 1:
            raise Unavailable("the server went away")
        sent.append(n)

    sender = _Sender(put, None)
    with pytest.raises(Unavailable):
        for n in range(50):
            sender.send(_window(n), 10)
        sender.finish()
    sender.close()
    # Only windows already handed to a sender when the failure came can have gone out.
    assert 0 in sent and 1 not in sent and max(sent) < 6


def test_close_stops_without_sending_what_is_queued() -> None:
    release = threading.Event()
    sent: list[int] = []

    def put(window: list[tuple[bytes, memoryview]]) -> None:
        assert release.wait(5)
        sent.append(window[0][0][0])

    sender = _Sender(put, None, uploads=1)
    sender.send(_window(0), 10)
    sender.send(_window(1), 10)
    release.set()
    sender.close()
    assert sent in ([0], [0, 1])  # the running upload ends; a queued one may or may not have started
