"""Datum identity is stable across commits; the datum hash changes with content, code and salt."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pipelinekit import pfs, snap, spec

from tusk_scheduler.domain.datums import DatumInput, datum_hash, datum_id, datums_for, make_datum

FILES = {"/a.txt": "alpha", "/b.txt": "beta"}


def one(files=FILES, *, commit="c1", **spec_extra):
    s = spec(pfs("in", "/*"), **spec_extra)
    return {d.inputs[0].path: d for d in datums_for(s, [snap("in", files, commit=commit)])}


def test_same_inputs_give_the_same_ids_and_hashes():
    assert one() == one()


def test_a_new_commit_with_the_same_content_keeps_ids_and_hashes():
    a, b = one(commit="c1"), one(commit="c2")
    assert {p: (d.datum_id, d.datum_hash) for p, d in a.items()} == {
        p: (d.datum_id, d.datum_hash) for p, d in b.items()
    }
    assert a["/a.txt"].inputs[0].commit == "c1" and b["/a.txt"].inputs[0].commit == "c2"


def test_changed_content_changes_the_hash_but_not_the_id():
    before, after = one(), one({**FILES, "/a.txt": "ALPHA"})
    assert after["/a.txt"].datum_id == before["/a.txt"].datum_id
    assert after["/a.txt"].datum_hash != before["/a.txt"].datum_hash
    assert after["/b.txt"].datum_hash == before["/b.txt"].datum_hash


def test_a_file_added_inside_a_directory_datum_changes_its_hash():
    s = spec(pfs("in", "/*"))
    before = datums_for(s, [snap("in", ["/d/1"])])[0]
    after = datums_for(s, [snap("in", ["/d/1", "/d/2"])])[0]
    assert (after.datum_id, after.datum_hash != before.datum_hash) == (before.datum_id, True)


def test_changed_code_changes_every_hash_but_no_id():
    base = one()
    new_code = one(transform={"cmd": ["python3", "v2.py"]})
    for path in base:
        assert new_code[path].datum_id == base[path].datum_id
        assert new_code[path].datum_hash != base[path].datum_hash


def test_cosmetic_spec_changes_keep_every_hash():
    base = one()
    cosmetic = one(description="now documented", parallelism_spec={"constant": 8}, datum_tries=5)
    assert {p: d.datum_hash for p, d in cosmetic.items()} == {p: d.datum_hash for p, d in base.items()}


def test_the_salt_changes_every_hash():
    assert one(salt="x")["/a.txt"].datum_hash != one()["/a.txt"].datum_hash


def test_the_id_depends_on_input_name_repo_branch_and_path():
    def inp(**over):
        fields = {"name": "n", "repo": "r", "branch": "master", "commit": "c", "path": "/p", "files": ()}
        return DatumInput(**{**fields, **over})

    base = datum_id([inp()])
    for change in ({"name": "m"}, {"repo": "q"}, {"branch": "dev"}, {"path": "/q"}):
        assert datum_id([inp(**change)]) != base, change
    assert datum_id([inp(commit="other", files=(("/p", "h"),))]) == base


@given(st.lists(st.text(max_size=6), min_size=2, max_size=6))
def test_the_encoding_is_unambiguous(parts):
    # Moving characters between adjacent fields must change the hash.
    left = DatumInput(parts[0], parts[1], "b", None, "/p", ())
    right = DatumInput(parts[0] + parts[1][:1], parts[1][1:], "b", None, "/p", ())
    if (left.name, left.repo) != (right.name, right.repo):
        assert datum_id([left]) != datum_id([right])


def test_make_datum_combines_id_and_hash():
    inputs = [DatumInput("n", "r", "master", "c", "/p", (("/p", "h"),))]
    d = make_datum(inputs, transform_hash="t", salt="s")
    assert d.datum_id == datum_id(inputs)
    assert d.datum_hash == datum_hash(d.datum_id, inputs, transform_hash="t", salt="s")
