"""The pipeline DAG: input repos, cycles named in data-flow order, topological order."""

from __future__ import annotations

import pytest
from pipelinekit import pfs, spec

from tusk_common.errors import Invalid
from tusk_scheduler.domain.dag import (
    check_no_cycle,
    downstream,
    input_repos,
    topological_order,
    upstream_pipelines,
)


def test_input_repos_collects_every_repo_at_any_depth():
    s = spec(
        {
            "cross": [
                {"union": [pfs("a", "/*"), pfs("b", "/*")]},
                {"join": [pfs("c", "/(*)", join_on="$1"), pfs("a", "/(*)", join_on="$1", name="a2")]},
                {"cron": {"name": "tick", "spec": "@hourly"}},
            ]
        },
        name="p",
    )
    assert input_repos(s) == {"a", "b", "c", "p_tick"}
    assert input_repos(s.input) == input_repos(s)


def test_a_pipeline_on_user_repos_has_no_cycle():
    check_no_cycle({"edges": {"images"}}, "montage", {"edges", "images"})


def test_a_two_pipeline_cycle_is_named():
    with pytest.raises(Invalid) as err:
        check_no_cycle({"b": {"a"}}, "a", {"b"})
    assert "a → b → a" in err.value.message
    assert err.value.field == "input"
    assert err.value.details["cycle"] == ["a", "b", "a"]


def test_a_longer_cycle_is_named_in_data_flow_order():
    # b reads a, c reads b; a reading c closes a → b → c → a.
    with pytest.raises(Invalid) as err:
        check_no_cycle({"b": {"a", "raw"}, "c": {"b"}, "other": {"raw"}}, "a", {"c"})
    assert err.value.details["cycle"] == ["a", "b", "c", "a"]


def test_updating_a_pipeline_replaces_its_old_inputs():
    existing = {"a": {"raw"}, "b": {"a"}}
    check_no_cycle(existing, "a", {"raw2"})
    with pytest.raises(Invalid):
        check_no_cycle(existing, "a", {"b"})


def test_a_diamond_is_not_a_cycle():
    check_no_cycle({"l": {"src"}, "r": {"src"}, "src": {"raw"}}, "join", {"l", "r"})


def test_cycles_elsewhere_do_not_block_an_unrelated_pipeline():
    check_no_cycle({"x": {"y"}, "y": {"x"}}, "new", {"raw"})


def test_topological_order_puts_producers_first_and_breaks_ties_by_name():
    pipelines = {"report": {"clean", "stats"}, "stats": {"clean"}, "clean": {"raw"}, "audit": {"raw"}}
    assert topological_order(pipelines) == ["audit", "clean", "stats", "report"]


def test_topological_order_refuses_a_cycle():
    with pytest.raises(Invalid, match="a, b form a cycle"):
        topological_order({"a": {"b"}, "b": {"a"}, "c": {"raw"}})


def test_downstream_lists_every_pipeline_a_commit_triggers_in_order():
    pipelines = {"report": {"clean", "stats"}, "stats": {"clean"}, "clean": {"raw"}, "audit": {"other"}}
    assert downstream(pipelines, "raw") == ["clean", "stats", "report"]
    assert downstream(pipelines, "stats") == ["report"]
    assert downstream(pipelines, "nothing") == []


def test_upstream_pipelines_are_every_pipeline_feeding_one_through_any_path():
    dag = {"b": {"a"}, "b2": {"b"}, "c": {"a"}, "d": {"b2", "c", "raw"}, "x": {"b"}}
    assert upstream_pipelines(dag, "d") == {"b", "b2", "c"}
    assert upstream_pipelines(dag, "b") == set()  # `a` is a user repo
    assert upstream_pipelines(dag, "x") == {"b"}
    assert upstream_pipelines(dag, "missing") == set()
