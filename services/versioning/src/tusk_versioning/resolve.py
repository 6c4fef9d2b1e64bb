"""Turning what users type (repo names, refs, paths) into catalog rows, or typed errors naming them."""

from __future__ import annotations

import asyncpg

from tusk_common import naming
from tusk_common.errors import Invalid, NotFound
from tusk_versioning.adapters import catalog
from tusk_versioning.domain.records import Branch, Commit, Repo
from tusk_versioning.domain.refs import Ref, parse_ref


def check_path(path: str, *, field: str = "path", allow_root: bool = True) -> str:
    """The canonical form of a user path (also refusing text that is not valid UTF-8)."""
    if isinstance(path, str):
        try:
            path.encode()
        except UnicodeEncodeError:
            raise Invalid(f"{field} is not valid UTF-8", field=field) from None
    return naming.normalize_path(path, field=field, allow_root=allow_root)


async def require_repo(conn: asyncpg.Connection, name: str, *, field: str = "repo", lock: bool = False) -> Repo:
    naming.check_name(name, field=field)
    repo = await catalog.get_repo(conn, name, lock=lock)
    if repo is None:
        raise NotFound(f"repo {name!r} not found", repo=name)
    return repo


async def require_branch(conn: asyncpg.Connection, repo: str, name: str, *, lock: bool = False) -> Branch:
    naming.check_name(name, field="branch")
    branch = await catalog.get_branch(conn, repo, name, lock=lock)
    if branch is None:
        raise NotFound(f"branch {name!r} not found in repo {repo!r}", repo=repo, branch=name)
    return branch


async def _not_found(conn: asyncpg.Connection, repo: str, err: NotFound) -> NotFound:
    """`err`, unless the repo itself is missing (checked only on this slow path)."""
    if await catalog.get_repo(conn, repo) is None:
        return NotFound(f"repo {repo!r} not found", repo=repo)
    return err


async def base_commit(conn: asyncpg.Connection, repo: str, ref: Ref) -> Commit:
    """The commit `ref` names before its `^N`: a commit id of this repo, or a branch head."""
    if ref.is_commit_id:
        c = await catalog.get_commit(conn, ref.base)
        if c is not None and c.repo == repo:
            return c
    branch = await catalog.get_branch(conn, repo, ref.base)
    if branch is None:
        what = "commit or branch" if ref.is_commit_id else "branch"
        raise await _not_found(
            conn, repo, NotFound(f"{what} {ref.base!r} not found in repo {repo!r}", repo=repo, ref=ref.text)
        )
    if branch.head is None:
        raise NotFound(f"branch {ref.base!r} of repo {repo!r} has no commits", repo=repo, ref=ref.text)
    c = await catalog.get_commit(conn, branch.head)
    assert c is not None
    return c


async def resolve_commit(
    conn: asyncpg.Connection, repo: str, ref_text: str, *, field: str = "ref", repo_field: str = "repo"
) -> Commit:
    """The commit a ref names in `repo` (NotFound names the repo when it is the repo that is missing)."""
    naming.check_name(repo, field=repo_field)
    ref = parse_ref(ref_text, field=field)
    c = await base_commit(conn, repo, ref)
    if ref.ancestors:
        found = await catalog.ancestor(conn, c.id, ref.ancestors)
        if found is None:
            raise NotFound(
                f"{ref_text!r} goes back past the first commit of repo {repo!r}", repo=repo, ref=ref_text
            )
        got = await catalog.get_commit(conn, found)
        assert got is not None
        c = got
    return c
