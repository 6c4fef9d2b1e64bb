"""Hypothesis for the domain tests: no example database, no per-example deadline (CI machines are busy)."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("tusk-domain", database=None, deadline=None, max_examples=100)
settings.load_profile("tusk-domain")
