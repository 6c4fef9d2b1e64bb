"""A mutable overlay over an immutable tree: apply puts, deletes and copies, then seal.

Only the directories (and, for paged directories, the pages) on the changed paths are loaded and
rewritten, so sealing after k changes costs O(k * depth), whatever the size of the tree.
"""

from __future__ import annotations

from tusk_common.errors import Conflict, NotFound
from tusk_versioning.domain.nodes import (
    EMPTY_HASH,
    Entry,
    Index,
    Leaf,
    Node,
    NodeBatch,
    PageRef,
    build_dir,
    decode,
)
from tusk_versioning.domain.paging import Levels, reassemble, runs
from tusk_versioning.domain.tree import NodeReader, Parts, iter_dir, join


class WorkDir:
    """A directory being edited; paged directories load only the pages that are touched."""

    __slots__ = ("base", "base_hash", "dirty", "entries", "levels", "pages")

    def __init__(self, base: Node | None, base_hash: str | None = None) -> None:
        self.base = base
        self.base_hash = base_hash
        # Leaf-based (or new) directories keep every entry; paged ones keep the touched pages only,
        # numbered by their position in `levels.flat[1]`.
        self.entries: dict[str, Child] | None = None
        self.levels: Levels | None = None
        self.pages: dict[int, dict[str, Child]] = {}
        self.dirty: set[int] = set()
        if base is None:
            self.entries = {}
        elif isinstance(base, Leaf):
            self.entries = {e.name: e for e in base.entries}

    async def _page(self, reader: NodeReader, name: str) -> tuple[int, dict[str, Child]]:
        if self.levels is None:
            assert isinstance(self.base, Index)
            self.levels = await Levels.load(reader, self.base)
        i = self.levels.page_of(name)
        page = self.pages.get(i)
        if page is None:
            page = self.pages[i] = await _load_page(reader, self.levels.flat[1][i])
        return i, page

    async def get(self, reader: NodeReader, name: str) -> Child | None:
        if self.entries is not None:
            return self.entries.get(name)
        return (await self._page(reader, name))[1].get(name)

    async def set(self, reader: NodeReader, name: str, child: Child | None) -> None:
        if self.entries is not None:
            target = self.entries
        else:
            i, target = await self._page(reader, name)
            self.dirty.add(i)
        if child is None:
            target.pop(name, None)
        else:
            target[name] = child


Child = Entry | WorkDir


async def _load_page(reader: NodeReader, ref: PageRef) -> dict[str, Child]:
    page = await reader.get(ref.hash)
    assert isinstance(page, Leaf)
    return {e.name: e for e in page.entries}


class WorkingTree:
    """The tree of one commit while it changes."""

    def __init__(self, reader: NodeReader, root: Node, root_hash: str = EMPTY_HASH) -> None:
        self.reader = reader
        self.root_hash = root_hash
        self.root = WorkDir(root, root_hash)

    @classmethod
    async def open(cls, reader: NodeReader, root_hash: str) -> WorkingTree:
        return cls(reader, await reader.get(root_hash), root_hash)

    async def _dir(
        self, parent: WorkDir, name: str, parts: Parts, *, create: bool, strict: bool = True
    ) -> WorkDir | None:
        child = await parent.get(self.reader, name)
        if child is None:
            if not create:
                return None
            wd = WorkDir(None)
        elif isinstance(child, WorkDir):
            return child
        elif child.kind == "file":
            if strict or not create:
                raise Conflict(f"{join(parts)} is a file, so it cannot hold other files", path=join(parts))
            wd = WorkDir(None)
        else:
            wd = WorkDir(await self.reader.get(child.hash), child.hash)
        await parent.set(self.reader, name, wd)
        return wd

    async def _parent(self, parts: Parts, *, create: bool, strict: bool = True) -> WorkDir | None:
        wd: WorkDir | None = self.root
        for i, name in enumerate(parts[:-1]):
            assert wd is not None
            wd = await self._dir(wd, name, parts[: i + 1], create=create, strict=strict)
            if wd is None:
                return None
        return wd

    async def get(self, parts: Parts) -> Child | None:
        """What the tree holds at `parts` now (an Entry, a WorkDir being edited, or None)."""
        if not parts:
            return self.root
        try:
            parent = await self._parent(parts, create=False)
        except Conflict:
            return None
        return None if parent is None else await parent.get(self.reader, parts[-1])

    async def put(self, parts: Parts, entry: Entry, *, strict: bool = True) -> None:
        """Put a file, or a directory by reference (merged into an existing directory).

        `strict=False` replays a checked log: whatever is in the way is replaced instead of refused.
        """
        if not parts:
            if entry.kind == "file":
                raise Conflict("/ is a directory: a file cannot replace it", path="/")
            await self._merge(entry, (), strict)
            return
        parent = await self._parent(parts, create=True, strict=strict)
        assert parent is not None
        name = parts[-1]
        existing = await parent.get(self.reader, name)
        is_dir = isinstance(existing, WorkDir) or (isinstance(existing, Entry) and existing.kind == "dir")
        if entry.kind == "file":
            if is_dir and strict:
                raise Conflict(f"{join(parts)} is a directory: a file cannot replace it", path=join(parts))
            await parent.set(self.reader, name, entry._replace(name=name))
            return
        if existing is not None and not is_dir:
            if strict:
                raise Conflict(f"{join(parts)} is a file: a directory cannot replace it", path=join(parts))
            existing = None
        if existing is None:
            await parent.set(self.reader, name, entry._replace(name=name))
            return
        await self._merge(entry, parts, strict)

    async def _merge(self, src: Entry, parts: Parts, strict: bool) -> None:
        """Copy every entry of the directory `src` into the directory at `parts`; `src` wins on files."""
        async for e in iter_dir(self.reader, src.hash):
            await self.put((*parts, e.name), e, strict=strict)

    async def delete(self, parts: Parts, *, strict: bool = True) -> None:
        """Remove a file or a directory (recursively); `/` empties the tree."""
        if not parts:
            self.root = WorkDir(None)
            return
        try:
            parent = await self._parent(parts, create=False)
        except Conflict:
            parent = None
        if parent is None or await parent.get(self.reader, parts[-1]) is None:
            if strict:
                raise NotFound(f"{join(parts)} does not exist", path=join(parts))
            return
        await parent.set(self.reader, parts[-1], None)

    async def seal(self) -> tuple[str, Node, NodeBatch]:
        """Root hash, root node and every node written, leaving the working tree usable."""
        out = NodeBatch()
        h, node = await _seal_dir(self.reader, self.root, out)
        return h, node, out


async def _seal_child(reader: NodeReader, name: str, child: Child, out: dict[str, bytes]) -> Entry | None:
    if isinstance(child, Entry):
        return child
    h, node = await _seal_dir(reader, child, out)
    if node.files == 0 and node.n == 0:
        return None  # directories are implicit: an empty one vanishes
    return Entry(name, "dir", h, node.size, node.files)


async def _sealed(reader: NodeReader, children: dict[str, Child], out: dict[str, bytes]) -> list[Entry]:
    entries = []
    for name in sorted(children):
        e = await _seal_child(reader, name, children[name], out)
        if e is not None:
            entries.append(e)
    return entries


async def _seal_dir(reader: NodeReader, wd: WorkDir, out: dict[str, bytes]) -> tuple[str, Node]:
    if wd.entries is not None:
        return build_dir(await _sealed(reader, wd.entries, out), out)
    if not wd.dirty and wd.base_hash is not None:
        assert wd.base is not None
        return wd.base_hash, wd.base
    levels = wd.levels
    assert levels is not None
    pages = levels.flat[1]

    async def items(i: int) -> list[Entry]:
        children = wd.pages.get(i)
        if children is None:  # a clean page absorbed by a run
            children = await _load_page(reader, pages[i])
        return await _sealed(reader, children, out)

    async def read_page(ref: PageRef) -> Leaf:
        page = _decoded(out, ref.hash) or await reader.get(ref.hash)
        assert isinstance(page, Leaf)
        return page

    page_repl = await runs(len(pages), wd.dirty, items, 0, out)
    return await reassemble(levels, page_repl, read_page, out)


def _decoded(out: dict[str, bytes], h: str) -> Node | None:
    if isinstance(out, NodeBatch) and h in out.decoded:
        return out.decoded[h]
    return decode(out[h]) if h in out else None
