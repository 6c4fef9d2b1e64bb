"""Every way a spec is refused names the field by its exact path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tusk_common.errors import Invalid
from tusk_scheduler.domain.spec import parse_spec, spec_from_dict

A = {"pfs": {"repo": "a", "glob": "/*"}}
B = {"pfs": {"repo": "b", "glob": "/*"}}


def base(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "pipeline": {"name": "p"},
        "input": copy.deepcopy(A),
        "transform": {"cmd": ["python3", "main.py"]},
    }
    doc.update(over)
    return doc


def transform(**fields: Any) -> dict[str, Any]:
    return {"cmd": ["python3"], **fields}


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # (case id, document, field path, message fragment)
    (
        "typo_in_nested_cross",
        base(input={"cross": [A, {"pfs": {"repo": "b", "globb": "/*"}}]}),
        "input.cross[1].pfs.globb",
        "unknown field (did you mean 'glob'?)",
    ),
    ("unknown_top_level", base(colour="red"), "colour", "unknown field"),
    (
        "unknown_camel",
        base(input={"pfs": {"repo": "a", "glob": "/*", "joinOnn": "$1"}}),
        "input.pfs.joinOnn",
        "unknown field",
    ),
    ("egress", base(egress={"URL": "s3://x"}), "egress", "not supported by Tusk"),
    ("service", base(service={"internal_port": 80}), "service", "not supported by Tusk"),
    ("spout", base(spout={}), "spout", "not supported by Tusk"),
    ("s3_out_camel", base(s3Out=True), "s3_out", "not supported by Tusk"),
    ("autoscaling", base(autoscaling=True), "autoscaling", "not supported by Tusk"),
    ("pod_patch", base(podPatch="[]"), "pod_patch", "not supported by Tusk"),
    ("resource_limits", base(resource_limits={"cpu": 1}), "resource_limits", "not supported by Tusk"),
    (
        "pfs_s3",
        base(input={"pfs": {"repo": "a", "glob": "/", "s3": True}}),
        "input.pfs.s3",
        "not supported by Tusk",
    ),
    (
        "pfs_commit",
        base(input={"pfs": {"repo": "a", "glob": "/", "commit": "abc"}}),
        "input.pfs.commit",
        "not supported by Tusk",
    ),
    (
        "pfs_trigger",
        base(input={"pfs": {"repo": "a", "glob": "/", "trigger": {}}}),
        "input.pfs.trigger",
        "not supported by Tusk",
    ),
    ("transform_debug", base(transform=transform(debug=True)), "transform.debug", "not supported by Tusk"),
    (
        "datum_batching",
        base(transform=transform(datumBatching=True)),
        "transform.datum_batching",
        "not supported by Tusk",
    ),
    (
        "coefficient",
        base(parallelism_spec={"coefficient": 2}),
        "parallelism_spec.coefficient",
        "not supported by Tusk",
    ),
    (
        "project",
        base(pipeline={"name": "p", "project": {"name": "ml"}}),
        "pipeline.project.name",
        "only the 'default' project",
    ),
    (
        "pfs_project",
        base(input={"pfs": {"repo": "a", "glob": "/", "project": "ml"}}),
        "input.pfs.project",
        "only the 'default' project",
    ),
    (
        "both_spellings",
        base(datum_tries=2, datumTries=3),
        "datum_tries",
        "given twice (as 'datum_tries' and 'datumTries')",
    ),
    ("missing_pipeline", {"input": A, "transform": {"cmd": ["x"]}}, "pipeline", "is required"),
    ("missing_input", {"pipeline": {"name": "p"}, "transform": {"cmd": ["x"]}}, "input", "is required"),
    ("missing_glob", base(input={"pfs": {"repo": "a"}}), "input.pfs.glob", "is required"),
    ("bad_pipeline_name", base(pipeline={"name": "my pipe"}), "pipeline.name", "not a valid name"),
    (
        "bad_repo_name",
        base(input={"pfs": {"repo": "a.b", "glob": "/"}}),
        "input.pfs.repo",
        "not a valid name",
    ),
    (
        "bad_branch",
        base(input={"pfs": {"repo": "a", "glob": "/", "branch": ""}}),
        "input.pfs.branch",
        "not a valid name",
    ),
    ("bad_output_branch", base(output_branch="x/y"), "output_branch", "not a valid name"),
    (
        "glob_relative",
        base(input={"pfs": {"repo": "a", "glob": "*"}}),
        "input.pfs.glob",
        "must start with '/'",
    ),
    (
        "glob_unclosed_class",
        base(input={"pfs": {"repo": "a", "glob": "/[ab"}}),
        "input.pfs.glob",
        "unclosed '['",
    ),
    (
        "glob_unclosed_brace",
        base(input={"pfs": {"repo": "a", "glob": "/{a,b"}}),
        "input.pfs.glob",
        "unclosed '{'",
    ),
    (
        "glob_unbalanced_paren",
        base(input={"pfs": {"repo": "a", "glob": "/a)"}}),
        "input.pfs.glob",
        "unbalanced ')'",
    ),
    (
        "glob_double_slash",
        base(input={"pfs": {"repo": "a", "glob": "/a//b"}}),
        "input.pfs.glob",
        "empty path component",
    ),
    ("glob_dotdot", base(input={"pfs": {"repo": "a", "glob": "/a/../b"}}), "input.pfs.glob", "'..'"),
    (
        "glob_slash_in_class",
        base(input={"pfs": {"repo": "a", "glob": "/a[/]"}}),
        "input.pfs.glob",
        "cannot match '/'",
    ),
    ("glob_bad_range", base(input={"pfs": {"repo": "a", "glob": "/[z-a]"}}), "input.pfs.glob", "bad range"),
    (
        "two_input_kinds",
        base(input={**A, "cross": [B]}),
        "input",
        "exactly one of pfs, cross, union, join, group, cron",
    ),
    ("no_input_kind", base(input={}), "input", "exactly one of"),
    ("empty_cross", base(input={"cross": []}), "input.cross", "at least one input"),
    (
        "cross_dup_names",
        base(input={"cross": [A, {"pfs": {"repo": "a", "glob": "/"}}]}),
        "input.cross[1].pfs.name",
        "duplicate input name 'a' in cross (also at input.cross[0].pfs.name)",
    ),
    (
        "nested_dup_names",
        base(input={"cross": [A, {"union": [B, {"pfs": {"repo": "c", "glob": "/", "name": "a"}}]}]}),
        "input.cross[1].union[1].pfs.name",
        "duplicate input name 'a'",
    ),
    (
        "join_dup_names",
        base(
            input={
                "join": [
                    {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}},
                    {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}},
                ]
            }
        ),
        "input.join[1].pfs.name",
        "duplicate input name",
    ),
    (
        "group_dup_names",
        base(
            input={
                "group": [
                    {"pfs": {"repo": "a", "glob": "/(*)", "group_by": "$1"}},
                    {"pfs": {"repo": "b", "glob": "/(*)", "group_by": "$1", "name": "a"}},
                ]
            }
        ),
        "input.group[1].pfs.name",
        "duplicate input name",
    ),
    (
        "join_child_not_pfs",
        base(input={"join": [{"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}}, {"cross": [B]}]}),
        "input.join[1]",
        "must be pfs inputs",
    ),
    (
        "join_without_join_on",
        base(
            input={
                "join": [
                    {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}},
                    {"pfs": {"repo": "b", "glob": "/(*)"}},
                ]
            }
        ),
        "input.join[1].pfs.join_on",
        "is required for an input of a join",
    ),
    (
        "group_without_group_by",
        base(input={"group": [{"pfs": {"repo": "a", "glob": "/(*)"}}]}),
        "input.group[0].pfs.group_by",
        "is required for an input of a group",
    ),
    (
        "join_on_no_groups",
        base(
            input={
                "join": [
                    {"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}},
                    {"pfs": {"repo": "b", "glob": "/*", "join_on": "$1"}},
                ]
            }
        ),
        "input.join[1].pfs.join_on",
        "refers to $1 but glob '/*' has 0 capture group(s)",
    ),
    (
        "join_on_group_3",
        base(input={"join": [{"pfs": {"repo": "a", "glob": "/(*)/(*)", "joinOn": "$3"}}]}),
        "input.join[0].pfs.join_on",
        "refers to $3",
    ),
    (
        "join_on_not_a_template",
        base(input={"join": [{"pfs": {"repo": "a", "glob": "/(*)", "join_on": "key"}}]}),
        "input.join[0].pfs.join_on",
        "must refer to a capture group",
    ),
    (
        "group_by_bad_ref",
        base(input={"group": [{"pfs": {"repo": "a", "glob": "/(*)", "group_by": "${2}"}}]}),
        "input.group[0].pfs.group_by",
        "refers to $2",
    ),
    (
        "join_on_outside_join",
        base(input={"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1"}}),
        "input.pfs.join_on",
        "only applies to an input directly inside join",
    ),
    (
        "outer_join_outside_join",
        base(input={"cross": [A, {"pfs": {"repo": "b", "glob": "/", "outer_join": True}}]}),
        "input.cross[1].pfs.outer_join",
        "inside join",
    ),
    (
        "group_by_in_join",
        base(input={"join": [{"pfs": {"repo": "a", "glob": "/(*)", "join_on": "$1", "group_by": "$1"}}]}),
        "input.join[0].pfs.group_by",
        "inside group",
    ),
    (
        "lazy_and_empty_files",
        base(input={"pfs": {"repo": "a", "glob": "/", "lazy": True, "empty_files": True}}),
        "input.pfs.empty_files",
        "cannot be combined with lazy",
    ),
    (
        "reads_own_output",
        base(input={"cross": [A, {"pfs": {"repo": "p", "glob": "/"}}]}),
        "input.cross[1].pfs.repo",
        "cannot read its own output repo 'p'",
    ),
    (
        "cron_reads_own_output",
        base(input={"cron": {"name": "t", "spec": "@every 1m", "repo": "p"}}),
        "input.cron.repo",
        "own output repo",
    ),
    (
        "input_named_out",
        base(input={"pfs": {"repo": "a", "glob": "/", "name": "out"}}),
        "input.pfs.name",
        "reserved",
    ),
    (
        "cron_bad_spec",
        base(input={"cron": {"name": "t", "spec": "every minute"}}),
        "input.cron.spec",
        "'every minute' is invalid",
    ),
    (
        "cron_out_of_range",
        base(input={"cron": {"name": "t", "spec": "61 * * * *"}}),
        "input.cron.spec",
        "invalid",
    ),
    (
        "cron_seven_fields",
        base(input={"cron": {"name": "t", "spec": "* * * * * * *"}}),
        "input.cron.spec",
        "5 fields",
    ),
    (
        "cron_bad_every",
        base(input={"cron": {"name": "t", "spec": "@every soon"}}),
        "input.cron.spec",
        "not a duration",
    ),
    (
        "cron_bad_start",
        base(input={"cron": {"name": "t", "spec": "@daily", "start": "yesterday"}}),
        "input.cron.start",
        "RFC 3339",
    ),
    (
        "cron_naive_start",
        base(input={"cron": {"name": "t", "spec": "@daily", "start": "2024-01-01T00:00:00"}}),
        "input.cron.start",
        "time zone",
    ),
    ("empty_cmd", base(transform={"cmd": []}), "transform.cmd", "must name the program"),
    ("blank_cmd", base(transform={"cmd": [""]}), "transform.cmd", "must name the program"),
    ("missing_cmd", base(transform={"image": "x"}), "transform.cmd", "is required"),
    ("cmd_is_a_string", base(transform={"cmd": "python3 main.py"}), "transform.cmd", "must be a list"),
    ("cmd_item_not_str", base(transform={"cmd": ["sleep", 5]}), "transform.cmd[1]", "must be a string"),
    ("env_not_string", base(transform=transform(env={"N": 5})), "transform.env.N", "must be a string"),
    (
        "env_bad_name",
        base(transform=transform(env={"1X": "a"})),
        "transform.env.1X",
        "not an environment variable name",
    ),
    (
        "secret_two_targets",
        base(transform=transform(secrets=[{"name": "s", "key": "k", "env_var": "A", "mount_path": "/s"}])),
        "transform.secrets[0]",
        "exactly one of env_var and mount_path",
    ),
    (
        "secret_env_without_key",
        base(transform=transform(secrets=[{"name": "s", "envVar": "A"}])),
        "transform.secrets[0].key",
        "is required with env_var",
    ),
    (
        "secret_relative_mount",
        base(transform=transform(secrets=[{"name": "s", "mount_path": "s"}])),
        "transform.secrets[0].mount_path",
        "absolute",
    ),
    (
        "err_stdin_without_err_cmd",
        base(transform=transform(err_stdin=["x"])),
        "transform.err_stdin",
        "needs err_cmd",
    ),
    (
        "relative_working_dir",
        base(transform=transform(working_dir="app")),
        "transform.working_dir",
        "absolute",
    ),
    (
        "accept_return_code_str",
        base(transform=transform(accept_return_code=["1"])),
        "transform.accept_return_code[0]",
        "must be an integer",
    ),
    ("datum_tries_zero", base(datum_tries=0), "datum_tries", "must be >= 1"),
    ("datum_tries_str", base(datum_tries="3"), "datum_tries", "must be an integer"),
    ("parallelism_negative", base(parallelism_spec={"constant": -1}), "parallelism_spec.constant", ">= 0"),
    ("timeout_number", base(datum_timeout=600), "datum_timeout", "duration string"),
    ("timeout_bad_unit", base(job_timeout="10 minutes"), "job_timeout", "not a duration"),
    ("timeout_zero", base(datum_timeout="0s"), "datum_timeout", "must be positive"),
    ("memory_bad", base(resource_requests={"memory": "lots"}), "resource_requests.memory", "not a quantity"),
    ("cpu_str", base(resource_requests={"cpu": "1"}), "resource_requests.cpu", "must be a number"),
    (
        "gpu_zero",
        base(resource_requests={"gpu": {"type": "nvidia.com/gpu", "number": 0}}),
        "resource_requests.gpu.number",
        ">= 1",
    ),
    (
        "reprocess_spec_bad",
        base(reprocess_spec="sometimes"),
        "reprocess_spec",
        "must be one of 'until_success' or 'every_job'",
    ),
    (
        "lazy_not_bool",
        base(input={"pfs": {"repo": "a", "glob": "/", "lazy": "yes"}}),
        "input.pfs.lazy",
        "true or false",
    ),
    ("labels_not_str", base(metadata={"labels": {"tier": 1}}), "metadata.labels.tier", "must be a string"),
    ("input_not_object", base(input=["a"]), "input", "must be an object"),
]


@pytest.mark.parametrize(("doc", "field", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_spec_is_rejected_naming_the_field(doc, field, fragment):
    with pytest.raises(Invalid) as err:
        spec_from_dict(doc)
    assert err.value.field == field, err.value.message
    assert err.value.message.startswith(f"{field}: "), err.value.message
    assert fragment in err.value.message


def test_all_errors_are_listed_with_their_paths():
    doc = base(datum_tries=0, transform={"cmd": []}, output_branch="a b")
    with pytest.raises(Invalid) as err:
        spec_from_dict(doc)
    fields = [e["field"] for e in err.value.details["errors"]]
    assert fields == ["transform.cmd", "datum_tries", "output_branch"]


def test_a_cron_repo_name_too_long_is_reported_on_the_repo():
    doc = base(pipeline={"name": "p" * 60}, input={"cron": {"name": "tick", "spec": "@hourly"}})
    with pytest.raises(Invalid) as err:
        spec_from_dict(doc)
    assert err.value.field == "input.cron.repo"


@pytest.mark.parametrize(
    ("text", "fmt", "fragment"),
    [
        ('{"pipeline": {"name": "p"}, "pipeline": {"name": "q"}}', "json", "'pipeline' appears twice"),
        ("pipeline: {name: p}\npipeline: {name: q}\n", "yaml", "'pipeline' appears twice"),
        ('{"pipeline": ', "json", "not valid JSON"),
        ("pipeline: [unclosed\n", "yaml", "not valid YAML"),
        ("", "yaml", "empty"),
        ("- just\n- a list\n", "yaml", "must be an object"),
        (b"\xff\xfe", None, "not UTF-8"),
        ("{}", "toml", "unknown spec format"),
    ],
)
def test_documents_that_are_not_a_spec_are_rejected(text, fmt, fragment):
    with pytest.raises(Invalid) as err:
        parse_spec(text, fmt=fmt)
    assert fragment in err.value.message


def test_a_yaml_key_that_is_not_a_string_is_rejected():
    with pytest.raises(Invalid) as err:
        parse_spec("pipeline: {name: p}\ninput: {pfs: {repo: a, glob: /, 1: x}}\ntransform: {cmd: [x]}\n")
    assert err.value.field == "input.pfs"
    assert "keys must be strings" in err.value.message
