"""Refs users type: a branch name, a commit id, either followed by `^N` / `~N` ancestors."""

from __future__ import annotations

from dataclasses import dataclass

from tusk_common import naming


@dataclass(frozen=True, slots=True)
class Ref:
    text: str
    base: str
    ancestors: int

    @property
    def is_commit_id(self) -> bool:
        return naming.is_commit_id(self.base)

    @property
    def is_plain_branch(self) -> bool:
        """A bare branch name: the only ref a write may turn into a new atomic commit."""
        return self.text == self.base and not self.is_commit_id


def parse_ref(text: str, *, field: str = "ref") -> Ref:
    base, ancestors = naming.split_ref(text, field=field)
    return Ref(text, base, ancestors)
