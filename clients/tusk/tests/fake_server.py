"""A small, faithful fake of the REST contract in docs/api.md, for testing the SDK and CLI.

It runs a real aiohttp server on a loopback port in a background thread. State is in memory (file
bytes are content-addressed blobs in a temp directory, so a 50 MiB upload costs no memory). URLs are
routed from the *raw* path, decoding each segment separately, so the tests see exactly what a client
encoded. Knobs for failure tests: `fail_batch` (the N-th multipart request answers 500 after reading its
body) and `ignore_range` (answer 200 with the whole file even when a Range was asked for).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from tusk_common import errors
from tusk_common.naming import check_name, is_commit_id, normalize_path, split_ref

Handler = Callable[..., Awaitable[web.StreamResponse]]



@dataclass
class Blob:
    id: str
    size: int
    md5: str
    path: Path


@dataclass
class Commit:
    id: str
    repo: str
    branch: str | None
    parent: str | None
    description: str = ""
    state: str = "open"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    files: dict[str, Blob] = field(default_factory=dict)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id, "repo": self.repo, "branch": self.branch, "parent": self.parent,
            "origin": "user", "commit_set": self.id, "description": self.description, "state": self.state,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": None, "size_bytes": sum(b.size for b in self.files.values()),
            "file_count": len(self.files),
        }


@dataclass
class Repo:
    name: str
    description: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    branches: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"head", "created_at"}
    commits: dict[str, Commit] = field(default_factory=dict)


@dataclass
class RequestRecord:
    method: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body_bytes: int = 0
    body_chunks: int = 0


RECORD = web.RequestKey("record", RequestRecord)


class FakeTusk:
    """The server's state and handlers. `url` is set once `FakeServer` has started it."""

    def __init__(self, blob_dir: Path) -> None:
        self.blob_dir = blob_dir
        self.repos: dict[str, Repo] = {}
        self.requests: list[RequestRecord] = []
        self.fail_batch: int | None = None
        self.ignore_range = False
        self.batches_seen = 0
        self.deleted_commits: list[str] = []
        self.url = ""

    # ----------------------------------------------------------- plumbing

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        record = RequestRecord(request.method, request.rel_url.raw_path, dict(request.query),
                               dict(request.headers))
        self.requests.append(record)
        request[RECORD] = record
        try:
            response = await handler(request)
        except errors.TuskError as exc:
            status = 408 if exc.details.get("wait_timeout") else exc.http_status
            response = web.json_response({"error": exc.to_wire()}, status=status)
        response.headers["X-Request-Id"] = request.headers.get("X-Request-Id", uuid.uuid4().hex)
        return response

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = request.rel_url.raw_path
        if not raw.startswith("/api/v1/"):
            raise errors.NotFound(f"no route {raw}")
        segs = [unquote(s) for s in raw[len("/api/v1/"):].split("/")]
        m = request.method
        if segs == ["version"] and m == "GET":
            return web.json_response({"version": "0.1.0-fake", "api": "v1"})
        if segs[0] == "commitsets" and len(segs) == 3 and segs[2] == "wait" and m == "GET":
            # no pipelines in the fake: a commit set is done once its commit is
            return web.json_response({"commit_set": segs[1], "done": True, "failed": False, "jobs": []})
        if segs[0] != "repos":
            raise errors.NotFound(f"no route {raw}")
        if len(segs) == 1:
            return await (self.create_repo(request) if m == "POST" else self.list_repos())
        repo = self.repo(segs[1])
        rest = segs[2:]
        if not rest:
            if m == "DELETE":
                del self.repos[repo.name]
                return web.Response(status=204)
            return web.json_response(self.repo_info(repo))
        kind, args = rest[0], rest[1:]
        if kind == "branches":
            return await self.branches(request, repo, args)
        if kind == "commits":
            return await self.commits(request, repo, args)
        if kind == "refs" and len(args) >= 2:
            return await self.refs(request, repo, args[0], args[1], args[2:])
        raise errors.NotFound(f"no route {raw}")

    def start(self, loop: asyncio.AbstractEventLoop) -> web.Application:
        app = web.Application(middlewares=[self.middleware], client_max_size=1 << 40)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    # -------------------------------------------------------------- repos

    def repo(self, name: str) -> Repo:
        if name not in self.repos:
            raise errors.NotFound(f'repo "{name}" not found', repo=name)
        return self.repos[name]

    def repo_info(self, repo: Repo) -> dict[str, Any]:
        head = repo.branches.get("master", {}).get("head")
        files = repo.commits[head].files if head else {}
        return {"name": repo.name, "description": repo.description, "created_at": repo.created_at.isoformat(),
                "default_branch": "master", "branches": sorted(repo.branches),
                "size_bytes": sum(b.size for b in files.values()), "file_count": len(files)}

    async def create_repo(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = check_name(body.get("name", ""), field="name")
        if name in self.repos:
            if not body.get("update"):
                raise errors.AlreadyExists(f'repo "{name}" already exists', repo=name)
            self.repos[name].description = body.get("description", "")
        else:
            self.repos[name] = Repo(name, body.get("description", ""))
        return web.json_response(self.repo_info(self.repos[name]), status=201)

    async def list_repos(self) -> web.Response:
        return web.json_response({"repos": [self.repo_info(r) for r in self.repos.values()]})

    # ----------------------------------------------------------- branches

    def branch_info(self, repo: Repo, name: str) -> dict[str, Any]:
        b = repo.branches[name]
        return {"repo": repo.name, "name": name, "head": b["head"], "created_at": b["created_at"].isoformat()}

    async def branches(self, request: web.Request, repo: Repo, args: list[str]) -> web.Response:
        if not args:
            if request.method == "POST":
                body = await request.json()
                name = check_name(body.get("name", ""), field="name")
                if name in repo.branches:
                    raise errors.AlreadyExists(f'branch "{name}" already exists in repo "{repo.name}"')
                head = self.resolve(repo, body["head"]).id if body.get("head") else None
                repo.branches[name] = {"head": head, "created_at": datetime.now(UTC)}
                return web.json_response(self.branch_info(repo, name), status=201)
            return web.json_response({"branches": [self.branch_info(repo, n) for n in repo.branches]})
        name = args[0]
        if name not in repo.branches:
            raise errors.NotFound(f'branch "{name}" not found in repo "{repo.name}"')
        if request.method == "DELETE":
            del repo.branches[name]
            return web.Response(status=204)
        return web.json_response(self.branch_info(repo, name))

    # ------------------------------------------------------------ commits

    def resolve(self, repo: Repo, ref: str) -> Commit:
        base, ancestors = split_ref(ref)
        if base in repo.branches:
            head = repo.branches[base]["head"]
            if head is None:
                raise errors.NotFound(f'branch "{base}" of repo "{repo.name}" has no commits')
            commit = repo.commits[head]
        elif is_commit_id(base) and base in repo.commits:
            commit = repo.commits[base]
        else:
            raise errors.NotFound(f'ref "{ref}" not found in repo "{repo.name}"')
        for _ in range(ancestors):
            if commit.parent is None:
                raise errors.NotFound(f'ref "{ref}" goes past the first commit')
            commit = repo.commits[commit.parent]
        return commit

    def start_commit(self, repo: Repo, branch: str, parent: str | None = None, description: str = "") -> Commit:
        check_name(branch, field="branch")
        b = repo.branches.setdefault(branch, {"head": None, "created_at": datetime.now(UTC)})
        if b["head"] and repo.commits[b["head"]].state == "open":
            raise errors.Conflict(f'branch "{branch}" already has an open commit {b["head"]}')
        parent_id = self.resolve(repo, parent).id if parent else b["head"]
        commit = Commit(uuid.uuid4().hex, repo.name, branch, parent_id, description)
        if parent_id:
            commit.files = dict(repo.commits[parent_id].files)
        repo.commits[commit.id] = commit
        b["head"] = commit.id
        return commit

    def finish(self, commit: Commit, description: str | None = None) -> None:
        if commit.state == "finished":
            raise errors.Conflict(f"commit {commit.id} is already finished")
        if description is not None:
            commit.description = description
        commit.state, commit.finished_at = "finished", datetime.now(UTC)
        commit.finished.set()

    async def commits(self, request: web.Request, repo: Repo, args: list[str]) -> web.Response:
        m = request.method
        if not args:
            if m == "POST":
                body = await request.json()
                commit = self.start_commit(repo, body.get("branch", ""), body.get("parent"),
                                           body.get("description", ""))
                return web.json_response(commit.info(), status=201)
            return self.list_commits(request, repo)
        commit = self.resolve(repo, args[0])
        action = args[1] if len(args) > 1 else ""
        if action == "finish" and m == "POST":
            body = await request.json() if request.can_read_body else {}
            self.finish(commit, body.get("description"))
        elif action == "wait" and m == "GET":
            timeout = float(request.query.get("timeout", "3600"))
            try:
                await asyncio.wait_for(commit.finished.wait(), timeout)
            except TimeoutError:
                raise errors.Unavailable(f"commit {commit.id} not finished in {timeout}s",
                                         wait_timeout=True) from None
        elif action == "squash" and m == "POST":
            children = [c for c in repo.commits.values() if c.parent == commit.id]
            if not children or commit.state != "finished":
                raise errors.Conflict(f"commit {commit.id} has no children to squash into")
            for child in children:
                child.parent = commit.parent
            del repo.commits[commit.id]
            return web.Response(status=204)
        elif action == "" and m == "DELETE":
            if any(c.parent == commit.id for c in repo.commits.values()):
                raise errors.Conflict(f"commit {commit.id} has children: only a head can be deleted")
            for b in repo.branches.values():
                if b["head"] == commit.id:
                    b["head"] = commit.parent
            del repo.commits[commit.id]
            self.deleted_commits.append(commit.id)
            return web.Response(status=204)
        elif action or m != "GET":
            raise errors.NotFound(f"no route {request.path}")
        return web.json_response(commit.info())

    def list_commits(self, request: web.Request, repo: Repo) -> web.Response:
        branch = request.query.get("branch")
        if branch:
            if branch not in repo.branches:
                raise errors.NotFound(f'branch "{branch}" not found in repo "{repo.name}"')
            chain, cur = [], repo.branches[branch]["head"]
            while cur:
                chain.append(repo.commits[cur])
                cur = repo.commits[cur].parent
        else:
            chain = sorted(repo.commits.values(), key=lambda c: c.started_at, reverse=True)
        page, cursor = _page(request, [c.info() for c in chain])
        return web.json_response({"commits": page, "next_cursor": cursor})

    # -------------------------------------------------------------- files

    def write_target(self, repo: Repo, ref: str, message: str) -> tuple[Commit, bool]:
        base, ancestors = split_ref(ref)
        if ancestors:
            raise errors.Invalid(f'cannot write to "{ref}": write to a branch or an open commit')
        if is_commit_id(base) and base not in repo.branches:
            commit = self.resolve(repo, base)
            if commit.state != "open":
                raise errors.Conflict(f"commit {commit.id} is finished")
            return commit, False
        head = repo.branches.get(base, {}).get("head")
        if head and repo.commits[head].state == "open":
            return repo.commits[head], False
        return self.start_commit(repo, base, description=message), True

    async def store(self, stream: Any, record: RequestRecord) -> Blob:
        """Write a body to a blob file while hashing it, chunk by chunk."""
        sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
        tmp = self.blob_dir / f"tmp-{uuid.uuid4().hex}"
        with tmp.open("wb") as fh:
            while chunk := await stream.read_chunk(1 << 20):
                sha.update(chunk)
                md5.update(chunk)
                fh.write(chunk)
                size += len(chunk)
                record.body_bytes += len(chunk)
                record.body_chunks += 1
        final = self.blob_dir / sha.hexdigest()
        tmp.replace(final)
        return Blob(sha.hexdigest(), size, md5.hexdigest(), final)

    async def put_one(self, request: web.Request, repo: Repo, ref: str, path: str) -> web.Response:
        path = normalize_path(path, allow_root=False)
        blob = await self.store(_Body(request.content), request[RECORD])
        if "Content-MD5" in request.headers:
            expected = base64.b64decode(request.headers["Content-MD5"]).hex()
            if expected != blob.md5:
                raise errors.Invalid("Content-MD5 does not match the body", field="Content-MD5")
        commit, atomic = self.write_target(repo, ref, request.query.get("message", ""))
        blob = self.appended(commit, path, blob) if request.query.get("append") == "true" else blob
        commit.files = {p: b for p, b in commit.files.items() if not p.startswith(path + "/")}
        commit.files[path] = blob
        if atomic:
            self.finish(commit)
        return web.json_response({"commit": commit.info(), "file": self.file_info(commit, path),
                                  "atomic": atomic}, status=201)

    def appended(self, commit: Commit, path: str, blob: Blob) -> Blob:
        old = commit.files.get(path)
        if old is None:
            return blob
        data = old.path.read_bytes() + blob.path.read_bytes()
        final = self.blob_dir / hashlib.sha256(data).hexdigest()
        final.write_bytes(data)
        return Blob(final.name, len(data), hashlib.md5(data).hexdigest(), final)

    async def put_many(self, request: web.Request, repo: Repo, ref: str) -> web.Response:
        self.batches_seen += 1
        number = self.batches_seen  # concurrent batches move the counter on while this one reads
        prefix = normalize_path(request.query.get("prefix", "/"))
        staged: list[tuple[str, Blob]] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.filename is None:
                await part.release()
                continue
            name = part.filename
            path = normalize_path(name if name.startswith("/") else f"{prefix.rstrip('/')}/{name}")
            staged.append((path, await self.store(_Part(part), request[RECORD])))
        if self.fail_batch is not None and number == self.fail_batch:
            raise errors.Internal("injected failure of this batch")
        commit, atomic = self.write_target(repo, ref, request.query.get("message", ""))
        append = request.query.get("append") == "true"
        for path, blob in staged:
            commit.files[path] = self.appended(commit, path, blob) if append else blob
        if atomic:
            self.finish(commit)
        return web.json_response({"commit": commit.info(), "files": len(staged),
                                  "bytes": sum(b.size for _, b in staged), "atomic": atomic}, status=201)

    def file_info(self, commit: Commit, path: str) -> dict[str, Any]:
        if path in commit.files:
            b = commit.files[path]
            return {"path": path, "type": "file", "size": b.size, "file_count": 1, "commit": commit.id,
                    "content": {"id": b.id, "size": b.size, "md5": b.md5, "chunks": None}}
        below = {p: b for p, b in commit.files.items() if path == "/" or p.startswith(path + "/")}
        if not below and path != "/":
            raise errors.NotFound(f'file "{path}" not found in commit {commit.id}', path=path)
        return {"path": path, "type": "dir", "size": sum(b.size for b in below.values()),
                "file_count": len(below), "commit": commit.id, "content": None}

    def children(self, commit: Commit, path: str) -> list[str]:
        prefix = "/" if path == "/" else path + "/"
        names = {p[len(prefix):].split("/")[0] for p in commit.files if p.startswith(prefix)}
        return sorted(prefix + n for n in names)

    async def refs(self, request: web.Request, repo: Repo, ref: str, kind: str, rest: list[str]) -> web.StreamResponse:
        m = request.method
        path = "/" + "/".join(rest)
        if kind == "files" and m == "PUT":
            return await self.put_one(request, repo, ref, path)
        if kind == "files" and m == "POST" and not rest:
            return await self.put_many(request, repo, ref)
        if kind == "files" and m == "DELETE":
            path = normalize_path(path, allow_root=False)
            commit, atomic = self.write_target(repo, ref, "")
            gone = [p for p in commit.files if p == path or p.startswith(path + "/")]
            if not gone:
                raise errors.NotFound(f'file "{path}" not found')
            for p in gone:
                del commit.files[p]
            if atomic:
                self.finish(commit)
            return web.json_response({"commit": commit.info(), "atomic": atomic})
        if kind == "copy" and m == "POST":
            body = await request.json()
            src_repo = self.repo(body.get("src_repo") or repo.name)
            src = self.resolve(src_repo, body["src_ref"])
            src_path, dst_path = normalize_path(body["src_path"]), normalize_path(body["dst_path"])
            picked = {p: b for p, b in src.files.items() if p == src_path or p.startswith(src_path.rstrip("/") + "/")}
            if not picked:
                raise errors.NotFound(f'file "{src_path}" not found')
            commit, atomic = self.write_target(repo, ref, "")
            for p, b in picked.items():
                commit.files[normalize_path(dst_path + p[len(src_path):])] = b
            if atomic:
                self.finish(commit)
            return web.json_response({"commit": commit.info(), "atomic": atomic})
        commit = self.resolve(repo, ref)
        if kind == "files" and m in ("GET", "HEAD"):
            return await self.get_file(request, commit, normalize_path(path))
        if kind == "stat":
            return web.json_response(self.file_info(commit, normalize_path(path)))
        if kind == "tree":
            path = normalize_path(path)
            info = self.file_info(commit, path)
            if info["type"] == "file":
                items = [info]
            elif request.query.get("recursive") == "true":
                prefix = "/" if path == "/" else path + "/"
                items = [self.file_info(commit, p) for p in sorted(commit.files) if p.startswith(prefix)]
            else:
                items = [self.file_info(commit, p) for p in self.children(commit, path)]
            page, cursor = _page(request, items)
            return web.json_response({"files": page, "next_cursor": cursor})
        if kind == "glob":
            regex = _glob_regex(request.query["pattern"])
            dirs = {"/".join(p.split("/")[:i]) for p in commit.files for i in range(2, p.count("/") + 1)}
            items = [self.file_info(commit, p) for p in sorted(set(commit.files) | dirs) if regex.match(p)]
            page, cursor = _page(request, items)
            return web.json_response({"files": page, "next_cursor": cursor})
        if kind == "diff":
            return self.diff(request, repo, commit)
        raise errors.NotFound(f"no route {request.path}")

    async def get_file(self, request: web.Request, commit: Commit, path: str) -> web.StreamResponse:
        if path not in commit.files:
            if self.file_info(commit, path)["type"] == "dir":
                raise errors.Invalid(f'"{path}" is a directory', field="path")
        blob = commit.files[path]
        start, end, status = 0, blob.size - 1, 200
        rng = request.headers.get("Range")
        if rng and not self.ignore_range:
            a, _, b = rng.removeprefix("bytes=").partition("-")
            start = int(a)
            end = min(int(b), blob.size - 1) if b else blob.size - 1
            if start >= blob.size:
                raise errors.Invalid("range not satisfiable", field="Range")
            status = 206
        resp = web.StreamResponse(status=status, headers={
            "ETag": f'"{blob.id}"', "Accept-Ranges": "bytes", "X-Tusk-Commit": commit.id,
            "X-Tusk-Content-Id": blob.id, "Content-Type": "application/octet-stream"})
        resp.content_length = end - start + 1
        await resp.prepare(request)
        if request.method == "GET":
            with blob.path.open("rb") as fh:
                fh.seek(start)
                left = end - start + 1
                while left > 0 and (chunk := fh.read(min(1 << 20, left))):
                    await resp.write(chunk)
                    left -= len(chunk)
        await resp.write_eof()
        return resp

    def diff(self, request: web.Request, repo: Repo, commit: Commit) -> web.Response:
        base_ref = request.query.get("base")
        base = self.resolve(repo, base_ref) if base_ref else (
            repo.commits[commit.parent] if commit.parent else None)
        old_files = base.files if base else {}
        path = normalize_path(request.query.get("path", "/"))
        inside = (lambda p: True) if path == "/" else (lambda p: p == path or p.startswith(path + "/"))
        changes = []
        for p in sorted(set(old_files) | set(commit.files)):
            if not inside(p):
                continue
            old, new = old_files.get(p), commit.files.get(p)
            if old and new and old.id == new.id:
                continue
            kind = "added" if old is None else "deleted" if new is None else "modified"
            changes.append({"path": p, "change": kind,
                            "old": self.file_info(base, p) if old and base else None,
                            "new": self.file_info(commit, p) if new else None})
        page, cursor = _page(request, changes)
        return web.json_response({"changes": page, "next_cursor": cursor})


class _Body:
    def __init__(self, content: Any) -> None:
        self.content = content

    async def read_chunk(self, size: int) -> bytes:
        data: bytes = await self.content.read(size)
        return data


class _Part:
    def __init__(self, part: Any) -> None:
        self.part = part

    async def read_chunk(self, size: int) -> bytes:
        data: bytes = await self.part.read_chunk(size)
        return data


def _page(request: web.Request, items: list[Any]) -> tuple[list[Any], str | None]:
    limit = int(request.query.get("limit", "1000"))
    start = int(request.query.get("cursor", "0"))
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else None)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(f"^{out}$")


class FakeServer:
    """Runs `FakeTusk` on 127.0.0.1:<free port> in a background thread; `with FakeServer(dir) as fake`."""

    def __init__(self, blob_dir: Path) -> None:
        blob_dir.mkdir(parents=True, exist_ok=True)
        self.state = FakeTusk(blob_dir)
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-tusk", daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> FakeTusk:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.state.url = self.url
        return self.state

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.state.start(self._loop), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def main() -> None:
    """`python fake_server.py [DIR]`: serve the fake until Ctrl-C (handy for trying the CLI by hand)."""
    import sys
    import tempfile
    import time

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="fake-tusk-"))
    with FakeServer(root) as fake:
        print(f"TUSK_URL={fake.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
