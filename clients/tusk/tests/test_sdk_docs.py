"""The examples in docs/sdk.md run, in order, against the fake server: the docs stay true."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from fake_server import FakeTusk

DOC = Path(__file__).resolve().parents[3] / "docs" / "sdk.md"


@pytest.mark.skipif(not DOC.exists(), reason="docs/sdk.md is not in this tree")
def test_the_sdk_guide_runs(fake: FakeTusk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 8
    monkeypatch.setenv("TUSK_URL", fake.url)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "sdk_guide"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for number, block in enumerate(blocks, 1):
            try:
                exec(compile(block, f"docs/sdk.md block {number}", "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"docs/sdk.md python block {number} failed: {exc!r}\n{block}")
    printed = out.getvalue()
    assert "missing: repo \"no-such-repo\" not found" in printed
    assert "finished 3" in printed
    assert "True more rows 12" in printed
    assert "3145728" in printed
