"""Refs and odd file paths reach the server percent-encoded, segment by segment, and come back intact."""

from __future__ import annotations

import pytest
from fake_server import FakeTusk

import tusk
from tusk import routes

ODD = ["/a b/c d.txt", "/ünï/cödé ✓.csv", "/x/#hash", "/q/what?.txt", "/p/100%.txt", "/s/a+b&c=d;e"]


def test_file_path_encodes_each_segment() -> None:
    assert routes.file_path("/a b/#1?/ü") == "a%20b/%231%3F/%C3%BC"
    assert routes.file_path("/") == ""
    assert routes.file_path("/a/") == "a"


def test_refs_are_encoded_with_their_ancestry() -> None:
    assert routes.files("images", "master^2", "/a") == "/api/v1/repos/images/refs/master%5E2/files/a"
    assert routes.commit("images", "master~1", "wait") == "/api/v1/repos/images/commits/master~1/wait"


@pytest.mark.parametrize("path", ODD)
def test_odd_paths_round_trip_through_put_and_get(client: tusk.Client, fake: FakeTusk, path: str) -> None:
    client.create_repo("r")
    client.put_file("r", "master", path, path.encode())
    assert client.read_file("r", "master", path) == path.encode()
    assert client.inspect_file("r", "master", path).path == path
    raw = fake.requests[-1].raw_path
    assert " " not in raw and "#" not in raw and "?" not in raw


def test_odd_paths_round_trip_through_multipart_batches(client: tusk.Client) -> None:
    client.create_repo("r")
    summary = client.put_files("r", "master", [(p, p.encode()) for p in ODD])
    assert summary.requests == 1
    assert sorted(f.path for f in client.list_files("r", "master", recursive=True)) == sorted(ODD)


def test_ancestor_refs_are_encoded_on_the_wire(client: tusk.Client, fake: FakeTusk) -> None:
    client.create_repo("r")
    for i in range(3):
        client.put_file("r", "master", "/f", str(i).encode())
    assert client.read_file("r", "master^2", "/f") == b"0"
    assert "/refs/master%5E2/files/f" in fake.requests[-1].raw_path
    assert client.inspect_commit("r", "master^1").id == client.inspect_commit("r", "master~1").id
