"""Helpers of the scheduler's contract: the digest an image reference pins."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tusk_common.wire.pipelines import (
    DatumSetTask,
    DatumTask,
    TaskInput,
    TaskTransform,
    image_digest,
    parse_task_message,
)

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


def _task(datum: str, **kw: object) -> DatumTask:
    return DatumTask(pipeline="p", pipeline_version=2, job="j" * 32, datum_id=datum, datum_hash="h" + datum,
                     commit_set="c" * 32, output_commit="o" * 32, transform=TaskTransform(cmd=["cp", "-r"]),
                     datum_tries=2, datum_timeout=5.0, inputs=[TaskInput(name="in", repo="in", branch="master",
                     commit="x" * 32, path="/" + datum)], **kw)  # fmt: skip


def test_a_datum_set_gives_back_the_tasks_it_was_made_of():
    tasks = [_task("a"), _task("b", generation=3)]
    body = DatumSetTask.of(tasks).model_dump_json(exclude_defaults=True).encode()
    assert parse_task_message(body).tasks() == tasks


def test_a_bare_datum_task_of_schema_version_1_is_read_as_a_set_of_one():
    task = _task("a")
    got = parse_task_message(task.model_dump_json(exclude_defaults=True).encode())
    assert got.tasks() == [task]


def test_a_message_that_is_neither_names_the_set_fields():
    with pytest.raises(ValidationError, match="DatumSetTask"):
        parse_task_message(b'{"pipeline": "p"}')
    empty = {**DatumSetTask.of([_task("a")]).model_dump(mode="json"), "datums": []}
    with pytest.raises(ValidationError, match="datums"):
        parse_task_message(json.dumps(empty).encode())
