"""Parsing Pachyderm pipeline specs: JSON and YAML, snake_case and camelCase, defaults, canonical form."""

from __future__ import annotations

import json

import pytest

from tusk_common.errors import Invalid
from tusk_scheduler.domain.spec import ReprocessSpec, parse_spec, parse_specs

THUMBS_JSON = """
{ "pipeline": {"name": "thumbs", "project": {"name": "default"}},
  "description": "one datum per image",
  "input": {"pfs": {"repo": "images", "branch": "master", "glob": "/*"}},
  "transform": {"image": "ghcr.io/acme/thumbs:1.2",
                "cmd": ["python3", "/app/thumb.py", "/pfs/images", "/pfs/out"],
                "env": {"SIZE": "256"}},
  "parallelism_spec": {"constant": 4},
  "datum_tries": 2, "datum_timeout": "600s",
  "resource_requests": {"cpu": 1, "memory": "512Mi"} }
"""

# The same pipeline as Pachyderm's docs write it: camelCase keys, YAML.
THUMBS_YAML_CAMEL = """
pipeline:
  name: thumbs
  project:
    name: default
description: one datum per image
input:
  pfs:
    repo: images
    branch: master
    glob: /*
transform:
  image: ghcr.io/acme/thumbs:1.2
  cmd: [python3, /app/thumb.py, /pfs/images, /pfs/out]
  env:
    SIZE: "256"
parallelismSpec:
  constant: 4
datumTries: 2
datumTimeout: 600s
resourceRequests:
  cpu: 1
  memory: 512Mi
"""

SCORE_CROSS = """
{ "pipeline": {"name": "score"},
  "input": {"cross": [
      {"pfs": {"repo": "models",  "glob": "/*"}},
      {"pfs": {"repo": "testset", "glob": "/"}} ]},
  "transform": {"image": "ghcr.io/acme/score:0.3", "cmd": ["sh"],
                "stdin": ["python3 /score.py /pfs/models /pfs/testset > /pfs/out/$PACH_DATUM_ID.json"]} }
"""

EVERYTHING_YAML = """
pipeline: {name: report}
description: all the supported fields
input:
  union:
    - join:
        - pfs: {repo: purchases, glob: "/(*).txt", joinOn: "$1", outerJoin: true, name: buys}
        - pfs: {repo: returns, glob: "/(*).txt", join_on: "$1", lazy: true}
    - group:
        - pfs: {repo: logs, glob: "/(*)/(*).log", groupBy: "$2", emptyFiles: true}
    - cron: {name: tick, spec: "@every 60s", overwrite: true, start: "2024-05-01T00:00:00Z"}
transform:
  cmd: [python3, /app/report.py]
  stdin: []
  env: {MODE: full}
  secrets:
    - {name: mlflow, key: token, envVar: MLFLOW_TRACKING_TOKEN}
    - {name: certs, mountPath: /etc/certs}
  image: python:3.12
  errCmd: [sh, -c, "echo recovered"]
  errStdin: ["true"]
  acceptReturnCode: [2, 3]
  workingDir: /app
parallelismSpec: {constant: 2}
datumTries: 5
datumTimeout: 1h30m
jobTimeout: 2h
resourceRequests: {cpu: 0.5, memory: 2Gi, gpu: {type: nvidia.com/gpu, number: 1}, disk: 10G}
outputBranch: main
reprocessSpec: every_job
salt: abc
metadata: {annotations: {team: data}, labels: {tier: gold}}
"""


def test_pachyderm_json_and_camelcase_yaml_parse_to_the_same_spec():
    a = parse_spec(THUMBS_JSON, fmt="json")
    b = parse_spec(THUMBS_YAML_CAMEL, fmt="yaml")
    assert a == b
    assert a.canonical_json() == b.canonical_json()
    assert a.spec_hash() == b.spec_hash()


def test_format_is_guessed_from_the_text():
    assert parse_spec(THUMBS_JSON) == parse_spec(THUMBS_YAML_CAMEL)
    assert parse_spec(THUMBS_JSON.encode()) == parse_spec(THUMBS_JSON)


def test_fields_and_defaults_of_a_single_input_pipeline():
    s = parse_spec(THUMBS_JSON)
    assert s.name == "thumbs"
    assert s.input.kind == "pfs"
    assert s.input.pfs is not None
    assert (s.input.pfs.repo, s.input.pfs.branch, s.input.pfs.glob, s.input.pfs.name) == (
        "images",
        "master",
        "/*",
        "images",
    )
    assert s.transform.cmd == ("python3", "/app/thumb.py", "/pfs/images", "/pfs/out")
    assert s.transform.env == {"SIZE": "256"}
    assert s.parallelism == 4
    assert s.datum_tries == 2
    assert s.datum_timeout == 600.0
    assert s.job_timeout is None
    assert s.resource_requests is not None
    assert s.resource_requests.memory_bytes == 512 * 2**20
    assert s.output_branch == "master"
    assert s.reprocess_spec is ReprocessSpec.UNTIL_SUCCESS


def test_defaults_when_optional_fields_are_absent():
    s = parse_spec(SCORE_CROSS)
    assert s.datum_tries == 3
    assert s.parallelism == 1
    assert s.output_branch == "master"
    assert s.salt is None and s.metadata is None and s.description is None
    assert [c.pfs.name for c in s.input.children if c.pfs] == ["models", "testset"]


def test_every_supported_field_parses():
    s = parse_spec(EVERYTHING_YAML)
    union = s.input.union
    assert union is not None and len(union) == 3
    join, group, cron = union
    assert join.join is not None and join.join[0].pfs is not None
    assert join.join[0].pfs.name == "buys" and join.join[0].pfs.outer_join
    assert join.join[1].pfs is not None and join.join[1].pfs.lazy
    assert group.group is not None and group.group[0].pfs is not None
    assert group.group[0].pfs.group_by == "$2" and group.group[0].pfs.empty_files
    assert cron.cron is not None
    assert cron.cron.repo == "report_tick"  # Pachyderm's default <pipeline>_<name>
    assert cron.cron.overwrite and cron.cron.start is not None and cron.cron.start.year == 2024
    t = s.transform
    assert t.secrets[0].env_var == "MLFLOW_TRACKING_TOKEN" and t.secrets[1].mount_path == "/etc/certs"
    assert t.err_cmd == ("sh", "-c", "echo recovered") and t.err_stdin == ("true",)
    assert t.accept_return_code == (2, 3) and t.working_dir == "/app"
    assert s.datum_timeout == 5400.0 and s.job_timeout == 7200.0
    assert s.resource_requests is not None and s.resource_requests.gpu is not None
    assert s.resource_requests.gpu.number == 1 and s.resource_requests.disk_bytes == 10**10
    assert s.output_branch == "main" and s.reprocess_spec is ReprocessSpec.EVERY_JOB
    assert s.salt == "abc" and s.metadata is not None and s.metadata.labels == {"tier": "gold"}


def test_canonical_json_round_trips_and_fills_defaults():
    s = parse_spec(EVERYTHING_YAML)
    canonical = s.canonical_json()
    again = parse_spec(canonical, fmt="json")
    assert again == s
    assert again.canonical_json() == canonical
    doc = json.loads(canonical)
    assert doc["datum_timeout"] == "5400s"
    assert "project" not in doc["pipeline"]
    assert list(doc) == sorted(doc)


def test_explicit_defaults_hash_like_omitted_ones():
    explicit = parse_spec(THUMBS_JSON.replace('"datum_tries": 2', '"datum_tries": 3'))
    implicit = parse_spec(THUMBS_JSON.replace('"datum_tries": 2,', ""))
    assert explicit.spec_hash() == implicit.spec_hash()


def test_transform_hash_covers_the_code_but_not_description_or_parallelism():
    base = parse_spec(THUMBS_JSON)
    cosmetic = parse_spec(
        THUMBS_JSON.replace("one datum per image", "new words").replace('"constant": 4', '"constant": 8')
    )
    assert cosmetic.transform_hash() == base.transform_hash()
    assert cosmetic.spec_hash() != base.spec_hash()
    for old, new in [
        ('"/app/thumb.py"', '"/app/thumb2.py"'),
        ("thumbs:1.2", "thumbs:1.3"),
        ('"SIZE": "256"', '"SIZE": "512"'),
        ('"env": {"SIZE": "256"}', '"env": {"SIZE": "256"}, "stdin": ["x"]'),
        ('"env": {"SIZE": "256"}', '"env": {"SIZE": "256"}, "working_dir": "/w"'),
        ('"env": {"SIZE": "256"}', '"env": {"SIZE": "256"}, "accept_return_code": [1]'),
        ('"env": {"SIZE": "256"}', '"env": {"SIZE": "256"}, "err_cmd": ["true"]'),
        ('"env": {"SIZE": "256"}', '"env": {"SIZE": "256"}, "secrets": [{"name": "s", "mount_path": "/s"}]'),
    ]:
        changed = parse_spec(THUMBS_JSON.replace(old, new))
        assert changed.transform_hash() != base.transform_hash(), (old, new)


def test_parse_specs_reads_a_yaml_stream_and_a_json_stream():
    yaml_two = THUMBS_YAML_CAMEL + "\n---\n" + THUMBS_YAML_CAMEL.replace("name: thumbs", "name: thumbs2")
    assert [s.name for s in parse_specs(yaml_two)] == ["thumbs", "thumbs2"]
    json_two = THUMBS_JSON + THUMBS_JSON.replace('"thumbs"', '"thumbs2"')
    assert [s.name for s in parse_specs(json_two)] == ["thumbs", "thumbs2"]
    with pytest.raises(Invalid, match="expected one pipeline spec, found 2"):
        parse_spec(json_two)


def test_yaml_timestamps_and_numbers_stay_what_the_user_wrote():
    s = parse_spec(EVERYTHING_YAML.replace('start: "2024-05-01T00:00:00Z"', "start: 2024-05-01T00:00:00Z"))
    assert s.input.union is not None and s.input.union[2].cron is not None
    assert s.input.union[2].cron.start is not None


def test_env_keys_are_user_data_and_never_case_converted():
    s = parse_spec(THUMBS_JSON.replace('"SIZE"', '"camelCaseVar"'))
    assert s.transform.env == {"camelCaseVar": "256"}
