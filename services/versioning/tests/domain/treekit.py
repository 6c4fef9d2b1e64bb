"""Small builders shared by the domain tests (in-memory trees, no servers)."""

from __future__ import annotations

from tusk_versioning.domain.nodes import EMPTY_HASH, Entry
from tusk_versioning.domain.tree import MemoryNodes, split
from tusk_versioning.domain.working import WorkingTree


def file_entry(content: str, size: int | None = None) -> Entry:
    return Entry("", "file", "c-" + content, len(content) if size is None else size, 1)


async def build(store: MemoryNodes, files: dict[str, str], root: str = EMPTY_HASH) -> str:
    """Apply `path -> content` puts to the tree `root` and persist the result in `store`."""
    wt = await WorkingTree.open(store, root)
    for path, content in files.items():
        await wt.put(split(path), file_entry(content))
    h, _node, out = await wt.seal()
    store.put_all(out)
    return h
