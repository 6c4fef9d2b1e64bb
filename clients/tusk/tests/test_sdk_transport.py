"""HTTP failures become the typed errors of `tusk_common.errors` (pure unit tests over MockTransport)."""

from __future__ import annotations

import socket

import httpx
import pytest

import tusk
from tusk_common import errors


def mock(handler) -> tusk.Client:
    return tusk.Client("http://tusk.test", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "not_found", errors.NotFound),
        (409, "already_exists", errors.AlreadyExists),
        (409, "conflict", errors.Conflict),
        (400, "invalid", errors.Invalid),
        (412, "precondition_failed", errors.PreconditionFailed),
        (413, "too_large", errors.TooLarge),
        (503, "unavailable", errors.Unavailable),
    ],
)
def test_error_replies_raise_the_class_the_server_named(
    status: int, code: str, cls: type[errors.TuskError]
) -> None:
    body = {"error": {"code": code, "message": 'repo "x" not found', "details": {"field": "name"}}}
    client = mock(lambda request: httpx.Response(status, json=body))
    with pytest.raises(errors.TuskError) as info:
        client.inspect_repo("x")
    assert type(info.value) is cls
    assert info.value.message == 'repo "x" not found'
    assert info.value.field == "name"


def test_error_replies_without_a_json_body_are_classified_by_status() -> None:
    client = mock(lambda request: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(errors.Unavailable, match="HTTP 502"):
        client.list_repos()
    client = mock(lambda request: httpx.Response(404, text=""))
    with pytest.raises(errors.NotFound):
        client.list_repos()


def test_an_unreachable_server_is_unavailable_with_a_hint() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    with tusk.Client(f"http://127.0.0.1:{port}") as client, pytest.raises(errors.Unavailable) as info:
        client.list_repos()
    assert "tusk up" in info.value.message and "TUSK_URL" in info.value.message
    assert info.value.retryable


def test_the_url_defaults_to_tusk_url_then_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUSK_URL", raising=False)
    assert tusk.Client().url == "http://127.0.0.1:7080"
    monkeypatch.setenv("TUSK_URL", "http://tusk.example:9000/")
    assert tusk.Client().url == "http://tusk.example:9000"
    assert tusk.Client("localhost:1234").url == "http://localhost:1234"


def test_wait_commit_keeps_polling_through_408_until_finished(monkeypatch: pytest.MonkeyPatch) -> None:
    from tusk import versioning

    monkeypatch.setattr(versioning, "WAIT_POLL_SECONDS", 0.01)
    calls = []
    info = {"id": "a" * 32, "repo": "r", "branch": "master", "parent": None, "commit_set": "a" * 32,
            "state": "finished", "started_at": "2026-01-01T00:00:00Z"}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params["timeout"])
        if len(calls) < 3:
            return httpx.Response(408, json={"error": {"code": "unavailable", "message": "not yet"}})
        return httpx.Response(200, json=info)

    assert mock(handler).wait_commit("r", "master").state == "finished"
    assert len(calls) == 3


def test_wait_commit_with_a_timeout_gives_up() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(408, json={"error": {"code": "unavailable", "message": "not yet"}})

    with pytest.raises(errors.Unavailable, match="did not finish within"):
        mock(handler).wait_commit("r", "master", timeout=0.05)


def test_names_are_checked_before_any_request() -> None:
    client = mock(lambda request: pytest.fail("no request expected"))
    with pytest.raises(errors.Invalid):
        client.create_repo("bad name")
    with pytest.raises(errors.Invalid):
        client.inspect_commit("r", "mas.ter")
    with pytest.raises(errors.Invalid):
        client.put_file("r", "master", "relative/path", b"")
