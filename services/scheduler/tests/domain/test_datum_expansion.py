"""Input trees expand to the datums Pachyderm would make: pfs, cross, union, join, group, cron."""

from __future__ import annotations

import time

import pytest
from pipelinekit import content, pfs, shape, snap, spec

from tusk_common.errors import Invalid, NotFound
from tusk_scheduler.domain.datums import FileEntry, Snapshot, datums_for

IMAGES = snap("images", ["/cats/1.png", "/cats/2.png", "/dogs/1.png", "/readme.txt"])


@pytest.mark.parametrize(
    ("glob", "expected_paths"),
    [
        ("/", ["/"]),
        ("/*", ["/cats", "/dogs", "/readme.txt"]),
        ("/*/*", ["/cats/1.png", "/cats/2.png", "/dogs/1.png"]),
        ("/**", ["/cats", "/cats/1.png", "/cats/2.png", "/dogs", "/dogs/1.png", "/readme.txt"]),
        ("/**.png", ["/cats/1.png", "/cats/2.png", "/dogs/1.png"]),
        ("/cats/*", ["/cats/1.png", "/cats/2.png"]),
        ("/birds/*", []),
    ],
)
def test_each_glob_match_is_one_datum(glob, expected_paths):
    datums = datums_for(spec(pfs("images", glob)), [IMAGES])
    assert shape(datums) == [(("images", p),) for p in expected_paths]


def test_a_directory_datum_brings_every_file_below_it():
    datums = datums_for(spec(pfs("images", "/*")), [IMAGES])
    cats = datums[0].inputs[0]
    assert cats.path == "/cats"
    assert [p for p, _ in cats.files] == ["/cats/1.png", "/cats/2.png"]
    assert cats.files[0][1] == content("/cats/1.png")
    root = datums_for(spec(pfs("images", "/")), [IMAGES])[0].inputs[0]
    assert len(root.files) == 4


def test_a_directory_does_not_bring_siblings_that_share_its_prefix():
    s = snap("r", ["/a/1", "/a-b/2", "/a.c", "/ab/3", "/a/x/4"])
    datums = datums_for(spec(pfs("r", "/a")), [s])
    assert [p for p, _ in datums[0].inputs[0].files] == ["/a/1", "/a/x/4"]


def test_datum_inputs_record_repo_branch_commit_and_name():
    s = snap("images", ["/x"], branch="dev", commit="c9")
    d = datums_for(spec(pfs("images", "/*", branch="dev", name="pics")), [s])[0].inputs[0]
    assert (d.name, d.repo, d.branch, d.commit, d.path) == ("pics", "images", "dev", "c9", "/x")


def test_listed_directories_without_files_are_matched_but_bring_nothing():
    s = snap("r", ["/a/1"], dirs=["/empty"])
    datums = datums_for(spec(pfs("r", "/*")), [s])
    assert shape(datums) == [(("r", "/a"),), (("r", "/empty"),)]
    assert datums[1].inputs[0].files == ()


def test_an_empty_input_has_no_datums_even_with_the_root_glob():
    empty = Snapshot("r", "master", None, {})
    assert datums_for(spec(pfs("r", "/")), [empty]) == []
    assert datums_for(spec(pfs("r", "/*")), [empty]) == []


def test_cross_is_the_product_with_the_first_input_varying_slowest():
    models = snap("models", ["/m1/w", "/m2/w", "/m3/w"])
    tests = snap("testset", ["/t1", "/t2"])
    s = spec({"cross": [pfs("models", "/*"), pfs("testset", "/")]})
    assert shape(datums_for(s, [models, tests])) == [
        (("models", "/m1"), ("testset", "/")),
        (("models", "/m2"), ("testset", "/")),
        (("models", "/m3"), ("testset", "/")),
    ]
    s2 = spec({"cross": [pfs("models", "/*"), pfs("testset", "/*")]})
    assert shape(datums_for(s2, [models, tests]))[:3] == [
        (("models", "/m1"), ("testset", "/t1")),
        (("models", "/m1"), ("testset", "/t2")),
        (("models", "/m2"), ("testset", "/t1")),
    ]


def test_cross_with_an_empty_input_has_no_datums():
    s = spec({"cross": [pfs("a", "/*"), pfs("b", "/*")]})
    assert datums_for(s, [snap("a", ["/1"]), snap("b", [])]) == []


def test_union_concatenates_and_may_reuse_a_name():
    s = spec({"union": [pfs("a", "/*", name="in"), pfs("b", "/*", name="in")]})
    got = datums_for(s, [snap("a", ["/1", "/2"]), snap("b", ["/3"])])
    assert [(d.inputs[0].repo, d.inputs[0].path) for d in got] == [("a", "/1"), ("a", "/2"), ("b", "/3")]


def test_union_of_overlapping_globs_keeps_one_datum_per_identity():
    s = spec({"union": [pfs("a", "/*.csv", name="in"), pfs("a", "/x*", name="in")]})
    got = datums_for(s, [snap("a", ["/x.csv", "/y.csv", "/x.txt"])])
    assert shape(got) == [(("in", "/x.csv"),), (("in", "/y.csv"),), (("in", "/x.txt"),)]


def test_cross_of_unions_nests():
    s = spec({"cross": [{"union": [pfs("a", "/*"), pfs("b", "/*")]}, pfs("c", "/")]})
    got = datums_for(s, [snap("a", ["/1"]), snap("b", ["/2"]), snap("c", ["/3"])])
    assert shape(got) == [(("a", "/1"), ("c", "/")), (("b", "/2"), ("c", "/"))]


PURCHASES = snap("purchases", ["/1.txt", "/2.txt", "/3.txt"])
RETURNS = snap("returns", ["/2.txt", "/3.txt", "/4.txt", "/3.bak"])


def _join(outer_a: bool = False, outer_b: bool = False):
    return spec(
        {
            "join": [
                pfs("purchases", "/(*).txt", join_on="$1", outer_join=outer_a),
                pfs("returns", "/(*).(*)", join_on="$1", outer_join=outer_b),
            ]
        }
    )


def test_inner_join_pairs_inputs_with_equal_keys():
    got = datums_for(_join(), [PURCHASES, RETURNS])
    assert shape(got) == [
        (("purchases", "/2.txt"), ("returns", "/2.txt")),
        (("purchases", "/3.txt"), ("returns", "/3.bak")),  # one key, two files: both pairs
        (("purchases", "/3.txt"), ("returns", "/3.txt")),
    ]
    assert got[0].inputs[0].join_on == "2"


def test_outer_join_also_yields_the_unmatched_datums_of_outer_inputs():
    left = datums_for(_join(outer_a=True), [PURCHASES, RETURNS])
    assert (("purchases", "/1.txt"),) in shape(left)
    assert (("returns", "/4.txt"),) not in shape(left)
    assert len(left) == 4
    both = datums_for(_join(outer_a=True, outer_b=True), [PURCHASES, RETURNS])
    assert shape(both) == [
        (("purchases", "/1.txt"),),
        (("purchases", "/2.txt"), ("returns", "/2.txt")),
        (("purchases", "/3.txt"), ("returns", "/3.bak")),
        (("purchases", "/3.txt"), ("returns", "/3.txt")),
        (("returns", "/4.txt"),),
    ]


def test_outer_join_of_three_inputs_keeps_only_the_outer_ones_when_a_key_is_partial():
    s = spec(
        {
            "join": [
                pfs("a", "/(*)", join_on="$1", outer_join=True),
                pfs("b", "/(*)", join_on="$1"),
                pfs("c", "/(*)", join_on="$1"),
            ]
        }
    )
    got = datums_for(s, [snap("a", ["/k"]), snap("b", ["/k", "/j"]), snap("c", ["/z"])])
    assert shape(got) == [(("a", "/k"),)]


def test_group_puts_every_match_with_the_same_key_in_one_datum_across_inputs():
    s = spec(
        {
            "group": [
                pfs("sales", "/(*)/(*).csv", group_by="$1"),
                pfs("stores", "/(*).json", group_by="$1"),
            ]
        }
    )
    sales = snap("sales", ["/eu/jan.csv", "/eu/feb.csv", "/us/jan.csv"])
    stores = snap("stores", ["/eu.json", "/asia.json"])
    got = datums_for(s, [sales, stores])
    assert shape(got) == [
        (("stores", "/asia.json"),),
        (("sales", "/eu/feb.csv"), ("sales", "/eu/jan.csv"), ("stores", "/eu.json")),
        (("sales", "/us/jan.csv"),),
    ]
    assert {i.group_by for i in got[1].inputs} == {"eu"}


def test_cron_input_has_one_datum_per_tick_file():
    s = spec({"cron": {"name": "tick", "spec": "@every 60s"}}, name="nightly")
    ticks = snap("nightly_tick", ["/2024-05-01T00:00:00Z", "/2024-05-01T00:01:00Z"])
    assert shape(datums_for(s, [ticks])) == [
        (("tick", "/2024-05-01T00:00:00Z"),),
        (("tick", "/2024-05-01T00:01:00Z"),),
    ]


def test_a_missing_snapshot_is_not_found_naming_the_branch():
    with pytest.raises(NotFound) as err:
        datums_for(spec(pfs("a", "/*", branch="dev")), [snap("a", ["/1"])])
    assert err.value.details == {"repo": "a", "branch": "dev"}


@pytest.mark.parametrize(
    "files",
    [
        {"/a": FileEntry("file", "h"), "/a/b": FileEntry("file", "h")},
        {"a": FileEntry("file", "h")},
        {"/a/": FileEntry("file", "h")},
        {"/a": ("link", "h", 0)},
    ],
)
def test_inconsistent_listings_are_refused(files):
    with pytest.raises(Invalid):
        datums_for(spec(pfs("r", "/*")), [Snapshot("r", "master", "c", files)])


def test_plain_tuples_are_accepted_as_listing_entries():
    s = Snapshot("r", "master", "c", {"/a": ("file", "h1", 3), "/d": ("dir", "", 0)})
    assert shape(datums_for(spec(pfs("r", "/*")), [s])) == [(("r", "/a"),), (("r", "/d"),)]


def test_order_is_deterministic_whatever_the_listing_order():
    paths = [f"/{i:03}" for i in range(50)]
    forward = datums_for(spec(pfs("r", "/*")), [snap("r", paths)])
    backward = datums_for(spec(pfs("r", "/*")), [snap("r", list(reversed(paths)))])
    assert forward == backward


def test_ten_thousand_files_expand_in_linear_time():
    files = [f"/dir{i % 100:03}/file{i:05}.csv" for i in range(10_000)]
    big = snap("big", files)
    started = time.perf_counter()
    per_file = datums_for(spec(pfs("big", "/*/*")), [big])
    per_dir = datums_for(spec(pfs("big", "/*")), [big])
    everything = datums_for(spec(pfs("big", "/**")), [big])
    elapsed = time.perf_counter() - started
    assert (len(per_file), len(per_dir), len(everything)) == (10_000, 100, 10_100)
    assert sum(len(d.inputs[0].files) for d in per_dir) == 10_000
    # ~0.5 s here on a busy machine; a quadratic expansion would take minutes.
    assert elapsed < 5, elapsed
