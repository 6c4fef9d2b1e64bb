"""Helpers of the scheduler's contract: the digest an image reference pins."""

from __future__ import annotations

import pytest

from tusk_common.wire.pipelines import image_digest

SHA = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("image", "digest"),
    [
        (f"ghcr.io/acme/thumbs:1.2@sha256:{SHA}", f"sha256:{SHA}"),
        (f"localhost:5000/thumbs@sha256:{SHA}", f"sha256:{SHA}"),
        (f"python@sha512:{SHA * 2}", f"sha512:{SHA * 2}"),
        ("ghcr.io/acme/thumbs:1.2", None),  # a tag can move: nothing is pinned
        ("localhost:5000/thumbs", None),  # a registry port is not a digest
        (f"thumbs@sha256:{SHA[:-1]}", None),  # too short for sha256
        (f"thumbs@sha256:{SHA.upper()}", None),  # sha256 digests are lower-case hex
        (None, None),
        ("", None),
    ],
)
def test_image_digest_is_known_only_when_the_reference_pins_one(image: str | None, digest: str | None):
    assert image_digest(image) == digest
