"""`/api/v1/repos/{repo}/refs/{ref}/...`: write files (streamed put, multipart batch, delete, copy) and
read the tree (stat, tree, glob, diff). Downloads live in `downloads.py`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, HttpVersion11, hdrs, web

from tusk_common import naming
from tusk_common.errors import Invalid, TooLarge
from tusk_common.wire.versioning import DiffList, FileChange, FileInfo, FileList
from tusk_ingest.auth import Action
from tusk_ingest.entrypoints.http import params, state
from tusk_ingest.entrypoints.http.errors import error_response
from tusk_ingest.entrypoints.http.models import BatchReply, ChangeReply, CopyBody, PutFileReply
from tusk_ingest.entrypoints.http.routes import MESSAGE, PAGE, Param, Route, authorize, q_bool, q_str
from tusk_ingest.uploads import FileTarget, ReadChunk


def _target(request: web.Request) -> FileTarget:
    return FileTarget(params.repo(request), params.ref(request))


def _content_md5(request: web.Request) -> bytes | None:
    raw = request.headers.get("Content-MD5")
    if raw is None:
        return None
    try:
        digest = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid("Content-MD5 must be the base64 of a 16-byte MD5 digest", field="Content-MD5") from exc
    if len(digest) != 16:
        raise Invalid("Content-MD5 must be the base64 of a 16-byte MD5 digest", field="Content-MD5")
    return digest


async def expect_upload(request: web.Request) -> web.StreamResponse | None:
    """`Expect: 100-continue`: refuse an oversized upload before the client sends its body."""
    limit = state.deps(request).settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit:
        return error_response(TooLarge(f"the upload is larger than {limit} bytes", field="Content-Length",
                                       limit=limit))
    if request.version == HttpVersion11:
        if request.headers.get("Expect", "").lower() != "100-continue":
            return error_response(Invalid("only Expect: 100-continue is understood", field="Expect"), 417)
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # as aiohttp's own handler: the reply has not started yet
    return None


async def put_file(request: web.Request) -> web.Response:
    target, path = _target(request), params.file_path(request, allow_root=False)
    deps = state.deps(request)
    block = deps.settings.upload_block_bytes

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.content.iter_chunked(block):
            deps.metrics.bytes_in.inc(len(chunk))
            yield chunk

    outcome = await deps.uploads.put_file(
        target, path, body(), declared_length=request.content_length, content_md5=_content_md5(request),
        append=params.flag(request, "append"), message=params.text(request, "message", "") or "",
    )
    return params.reply(PutFileReply(commit=outcome.commit, file=outcome.file, atomic=outcome.atomic), 201)


# aiohttp strips leading slashes from filenames (a browser safety measure); absolute paths are ours.
_ABSOLUTE_FILENAME = re.compile(r"""(?:^|;)\s*filename(?:\*\s*=\s*[\w-]*'[\w-]*'|\s*=\s*"?)(?:/|%2f)""", re.I)


def _part_path(part: BodyPartReader, name: str, prefix: str) -> str:
    """A part's file path: its filename if absolute, else relative to `prefix`."""
    if _ABSOLUTE_FILENAME.search(part.headers.get(hdrs.CONTENT_DISPOSITION, "")):
        name = "/" + name.lstrip("/")
    elif not name.startswith("/"):
        name = f"{prefix.rstrip('/')}/{name}"
    return naming.normalize_path(name, field="filename", allow_root=False)


async def put_files(request: web.Request) -> web.Response:
    target = _target(request)
    deps = state.deps(request)
    prefix = params.path_query(request, "prefix")
    if not request.content_type.startswith("multipart/"):
        raise Invalid("the body must be multipart/form-data", field="Content-Type")
    reader = await request.multipart()

    async def parts() -> AsyncIterator[tuple[str, ReadChunk]]:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise Invalid("nested multipart bodies are not supported", field="body")
            filename = part.filename  # parsed anew on each access
            if not filename:
                await part.release()  # a plain form field: not a file
                continue
            path = _part_path(part, filename, prefix)

            async def read(size: int, part: BodyPartReader = part) -> bytes:
                chunk = await part.read_chunk(size)
                deps.metrics.bytes_in.inc(len(chunk))
                return chunk

            yield path, read

    outcome = await deps.uploads.put_batch(
        target, parts(), append=params.flag(request, "append"),
        message=params.text(request, "message", "") or "",
    )
    reply = BatchReply(commit=outcome.commit, files=outcome.files, bytes=outcome.bytes, atomic=outcome.atomic)
    return params.reply(reply, 201)


async def delete_file(request: web.Request) -> web.Response:
    target, path = _target(request), params.file_path(request)
    result = await state.deps(request).versioning.put_files(
        target.repo, target.ref, [FileChange(op="delete", path=path)],
        description=params.text(request, "message", "") or "",
    )
    return params.reply(ChangeReply(commit=result.commit, atomic=result.atomic))


async def copy_file(request: web.Request) -> web.Response:
    target = _target(request)
    body = await params.body(request, CopyBody)
    src_repo = naming.check_name(body.src_repo, field="src_repo") if body.src_repo else target.repo
    naming.split_ref(body.src_ref, field="src_ref")
    if src_repo != target.repo:
        await authorize(request, Action.REPO_READ, src_repo)
    result = await state.deps(request).versioning.copy_file(
        src_repo=src_repo, src_ref=body.src_ref,
        src_path=naming.normalize_path(body.src_path, field="src_path"),
        dst_repo=target.repo, dst_ref=target.ref,
        dst_path=naming.normalize_path(body.dst_path, field="dst_path"),
        description=params.text(request, "message", "") or "",
    )
    return params.reply(ChangeReply(commit=result.commit, atomic=result.atomic))


async def stat(request: web.Request) -> web.Response:
    target, path = _target(request), params.file_path(request)
    return params.reply(await state.deps(request).versioning.inspect_file(target.repo, target.ref, path))


async def tree(request: web.Request) -> web.Response:
    target, path = _target(request), params.file_path(request)
    page = await state.deps(request).versioning.list_files(
        target.repo, target.ref, path, recursive=params.flag(request, "recursive"),
        limit=params.integer(request, "limit", 1000), cursor=params.text(request, "cursor"),
    )
    return params.reply(page)


async def glob(request: web.Request) -> web.Response:
    target = _target(request)
    pattern = params.text(request, "pattern")
    if pattern is None:
        raise Invalid("pattern is required (for example /**.csv)", field="pattern")
    page = await state.deps(request).versioning.glob_files(
        target.repo, target.ref, pattern, limit=params.integer(request, "limit", 1000),
        cursor=params.text(request, "cursor"),
    )
    return params.reply(page)


async def diff(request: web.Request) -> web.Response:
    target = _target(request)
    base = params.text(request, "base")
    if base is not None:
        naming.split_ref(base, field="base")
    page = await state.deps(request).versioning.diff_files(
        target.repo, target.ref, base=base, path=params.path_query(request, "path"),
        limit=params.integer(request, "limit", 1000), cursor=params.text(request, "cursor"),
    )
    return params.reply(page)


_R = "/repos/{repo}/refs/{ref}"
_F = _R + "/files/{path:.*}"
_MD5 = Param("Content-MD5", {"type": "string"}, "base64 MD5 of the body; checked", where="header")
_WRITE_ERRORS = (400, 404, 409, 413, 503)

ROUTES = (
    Route("PUT", _F, put_file, "putFile", "Upload one file (raw body, streamed)", "files", Action.REPO_WRITE,
          status=201, body_media="octet-stream", reply=PutFileReply, errors=_WRITE_ERRORS,
          query=(q_bool("append", "append to the file instead of replacing it"), MESSAGE), headers=(_MD5,),
          description="Writes to a branch with an open head commit land in it; otherwise the upload is "
                      "one atomic commit. An upload that ends early stages nothing.",
          expect_handler=expect_upload),
    Route("POST", _R + "/files", put_files, "putFiles", "Upload many files (multipart/form-data)", "files",
          Action.REPO_WRITE, status=201, body_media="multipart", reply=BatchReply, errors=_WRITE_ERRORS,
          query=(q_str("prefix", "directory of parts with relative filenames"),
                 q_bool("append", "append each part to its file"), MESSAGE),
          description="Each part with a filename is one file. All files land in one commit, or none."),
    Route("DELETE", _F, delete_file, "deleteFile", "Delete a file, or a directory recursively", "files",
          Action.REPO_WRITE, reply=ChangeReply, query=(MESSAGE,), errors=(400, 404, 409, 503)),
    Route("POST", _R + "/copy", copy_file, "copyFile", "Copy a file or directory (no bytes move)", "files",
          Action.REPO_WRITE, body=CopyBody, reply=ChangeReply, query=(MESSAGE,), errors=(400, 404, 409, 503)),
    Route("GET", _R + "/stat/{path:.*}", stat, "statFile", "Inspect a file or directory", "files",
          Action.REPO_READ, reply=FileInfo),
    Route("GET", _R + "/tree/{path:.*}", tree, "listFiles", "List a directory", "files", Action.REPO_READ,
          reply=FileList, query=(q_bool("recursive", "every file below, no directory entries"), *PAGE)),
    Route("GET", _R + "/glob", glob, "globFiles", "Files matching a glob pattern", "files", Action.REPO_READ,
          reply=FileList, query=(Param("pattern", {"type": "string"}, "glob, e.g. /**.csv", required=True),
                                 *PAGE)),
    Route("GET", _R + "/diff", diff, "diffFiles", "Files changed between two commits", "files",
          Action.REPO_READ, reply=DiffList,
          query=(q_str("base", "ref to compare with (default: the parent)"),
                 q_str("path", "only below this directory"), *PAGE)),
)
