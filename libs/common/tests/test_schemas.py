"""The event schemas in docs/ are the generated ones (regenerate with `python -m tusk_common.schemas`)."""

from __future__ import annotations

from pathlib import Path

from tusk_common.schemas import render

DOCS = Path(__file__).resolve().parents[3] / "docs" / "events"


def test_docs_events_match_the_models():
    stale = [str(p) for p, content in render(DOCS).items() if not p.exists() or p.read_text() != content]
    assert stale == [], "run: python -m tusk_common.schemas docs/events"
