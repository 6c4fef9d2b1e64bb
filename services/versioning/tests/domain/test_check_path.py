"""Path validation at the service boundary (no servers)."""

from __future__ import annotations

import pytest

from tusk_common.errors import Invalid
from tusk_versioning.resolve import check_path


def test_check_path_refuses_text_that_is_not_utf8():
    with pytest.raises(Invalid) as err:
        check_path("/a\ud800", field="changes.0.path")
    assert err.value.field == "changes.0.path"


def test_check_path_canonicalizes_a_trailing_slash_and_keeps_unicode():
    assert check_path("/données/été/") == "/données/été"
