"""Forward compatibility of the wire: a reader ignores the fields a newer peer added (rolling upgrades)."""

from __future__ import annotations

import json

from tusk_common.events import CloudEvent, CommitFinished, envelope, parse_event
from tusk_common.wire.pipelines import DatumSetTask, DatumTask, TaskTransform, parse_task_message
from tusk_common.wire.versioning import FileContent, PutFiles


def _newer(payload: dict[str, object], **added: object) -> bytes:
    return json.dumps({**payload, **added}).encode()


def test_an_event_from_a_newer_producer_still_parses_and_keeps_what_this_version_knows():
    ev = CommitFinished(repo="images", branch="master", commit="c" * 32, commit_set="c" * 32, parent=None,
                        origin="user", size_bytes=10, file_count=1)  # fmt: skip
    ce = envelope(ev, source="test").model_dump(mode="json")
    ce["data"] = {**ce["data"], "added_in_a_later_release": {"nested": True}}
    ce["another_envelope_field"] = 1
    parsed = parse_event(CloudEvent.model_validate_json(json.dumps(ce)))
    assert parsed == ev


def test_rpc_requests_and_values_from_a_newer_peer_still_parse():
    content = FileContent(id="a" * 64, size=3)
    got = FileContent.model_validate_json(_newer(content.model_dump(mode="json"), erasure_coding="rs-4-2"))
    assert got == content
    req = PutFiles(repo="r", ref="master", changes=[])
    assert PutFiles.model_validate_json(_newer(req.model_dump(mode="json"), dry_run=True)) == req


def test_a_datum_set_from_a_newer_scheduler_still_runs():
    task = DatumTask(pipeline="p", pipeline_version=1, job="j", datum_id="d", datum_hash="h", commit_set="c",
                     transform=TaskTransform(cmd=["true"]), inputs=[])  # fmt: skip
    body = json.loads(DatumSetTask.of([task]).model_dump_json())
    body["priority"] = 5
    body["datums"][0]["gpu"] = "a100"
    assert parse_task_message(json.dumps(body).encode()).tasks() == [task]
