"""Bulk uploads: file packs (`POST .../pack`) and the chunk protocol (`GET /chunking`,
`POST .../chunks/missing`, `POST .../chunks`, `POST .../refs/{ref}/manifests`).

The binary bodies (`tusk_common.wire.bulk`) are parsed here, record by record, with one fixed-size read
per header: a body that ends before its end record is `invalid` and stores nothing in any commit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from pydantic import ValidationError

from tusk_common import naming
from tusk_common.bus import validation_to_invalid
from tusk_common.errors import Invalid, TooLarge
from tusk_common.wire import bulk as wire
from tusk_ingest.auth import Action
from tusk_ingest.chunks import decode_manifest, digest_of
from tusk_ingest.entrypoints.http import params, state
from tusk_ingest.entrypoints.http.models import (
    BatchReply,
    ChunkingReply,
    ChunksReply,
    ManifestsBody,
    MissingBody,
    MissingReply,
)
from tusk_ingest.entrypoints.http.routes import MESSAGE, Route, q_bool, q_str
from tusk_ingest.uploads import FileTarget

MANIFESTS_BODY_MAX = 64 * 1024 * 1024  # a JSON body of manifests: ~1.5 TB of files at 512 KiB chunks


class _Body:
    """Fixed-size reads of a request body; an early end is `Invalid` (the upload is incomplete)."""

    def __init__(self, request: web.Request) -> None:
        self._content = request.content
        self._bytes_in = state.deps(request).metrics.bytes_in

    async def exactly(self, n: int) -> bytes:
        try:
            data = await self._content.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            raise Invalid("the body ended before its end record; nothing was stored", field="body") from exc
        self._bytes_in.inc(n)
        return data

    async def some(self, n: int) -> bytes:
        data = await self._content.read(n)
        if not data:
            raise Invalid("the body ended before its end record; nothing was stored", field="body")
        self._bytes_in.inc(len(data))
        return data

    async def magic(self, expected: bytes, media: str) -> None:
        if await self.exactly(len(expected)) != expected:
            raise Invalid(f"the body is not a {media} stream (it must start with {expected!r})", field="body")


def _media(request: web.Request, media: str) -> None:
    if request.content_type != media:
        raise Invalid(f"the body must be {media}, not {request.content_type}", field="Content-Type")


# ------------------------------------------------------------------ packs


@dataclass
class _Record:
    path: str
    size: int
    body: _Body
    left: int = 0

    async def read_all(self) -> bytes:
        self.left = 0
        return await self.body.exactly(self.size)

    async def blocks(self, block_size: int) -> AsyncIterator[bytes]:
        while self.left:
            block = await self.body.some(min(self.left, block_size))
            self.left -= len(block)
            yield block


async def _records(body: _Body, prefix: str, limit: int) -> AsyncIterator[_Record]:
    await body.magic(wire.PACK_MAGIC, wire.PACK_MEDIA)
    while True:
        (n,) = wire.PACK_PATH.unpack(await body.exactly(wire.PACK_PATH.size))
        if n == wire.PACK_END:
            return
        if n > wire.MAX_PATH_BYTES:
            raise Invalid(f"a path in the pack is longer than {wire.MAX_PATH_BYTES} bytes", field="path")
        try:
            name = (await body.exactly(n)).decode()
        except UnicodeDecodeError as exc:
            raise Invalid("a path in the pack is not UTF-8", field="path") from exc
        (size,) = wire.PACK_SIZE.unpack(await body.exactly(wire.PACK_SIZE.size))
        if size > limit:
            raise TooLarge(f"{name} is larger than {limit} bytes", field="body", limit=limit)
        path = naming.normalize_path(name if name.startswith("/") else f"{prefix.rstrip('/')}/{name}",
                                     field="path", allow_root=False)
        record = _Record(path, size, body, size)
        yield record
        if record.left:
            raise RuntimeError("a pack record was not consumed")  # the use case reads each one whole


async def put_pack(request: web.Request) -> web.Response:
    _media(request, wire.PACK_MEDIA)
    deps = state.deps(request)
    target = FileTarget(params.repo(request), params.ref(request))
    records = _records(_Body(request), params.path_query(request, "prefix"), deps.settings.max_upload_bytes)
    outcome = await deps.uploads.put_pack(
        target, records, append=params.flag(request, "append"),
        message=params.text(request, "message", "") or "",
    )
    reply = BatchReply(commit=outcome.commit, files=outcome.files, bytes=outcome.bytes, atomic=outcome.atomic)
    return params.reply(reply, 201)


# ------------------------------------------------------------------ chunks


async def get_chunking(request: web.Request) -> web.Response:
    return params.reply(ChunkingReply.model_validate(state.deps(request).uploads.chunks.chunking()))


async def missing_chunks(request: web.Request) -> web.Response:
    params.repo(request)
    body = await params.body(request, MissingBody)
    digests = [digest_of(h, field=f"chunks.{i}") for i, h in enumerate(body.chunks)]
    missing = await state.deps(request).uploads.chunks.missing(digests)
    return params.reply(MissingReply(missing=[d.hex() for d in missing]))


async def _frames(body: _Body, chunk_max: int) -> AsyncIterator[tuple[bytes, bytes]]:
    await body.magic(wire.CHUNKS_MAGIC, wire.CHUNKS_MEDIA)
    while True:
        digest, length = wire.FRAME.unpack(await body.exactly(wire.FRAME.size))
        if digest == wire.FRAME_END and length == 0:
            return
        if not 0 < length <= chunk_max:
            raise Invalid(f"a chunk holds 1 to {chunk_max} bytes, not {length}", field="chunk",
                          chunk=digest.hex())
        yield digest, await body.exactly(length)


async def put_chunks(request: web.Request) -> web.Response:
    _media(request, wire.CHUNKS_MEDIA)
    params.repo(request)
    deps = state.deps(request)
    frames = _frames(_Body(request), deps.store.settings.chunk_max)
    outcome = await deps.uploads.chunks.store_frames(frames)
    return params.reply(ChunksReply(chunks=outcome.chunks, bytes=outcome.bytes))


async def _manifests_body(request: web.Request) -> ManifestsBody:
    if request.content_length is not None and request.content_length > MANIFESTS_BODY_MAX:
        raise TooLarge(f"the body is larger than {MANIFESTS_BODY_MAX} bytes", field="body",
                       limit=MANIFESTS_BODY_MAX)
    raw = bytearray()
    while block := await request.content.read(1 << 20):
        raw += block
        if len(raw) > MANIFESTS_BODY_MAX:
            raise TooLarge(f"the body is larger than {MANIFESTS_BODY_MAX} bytes", field="body",
                           limit=MANIFESTS_BODY_MAX)
    try:
        return ManifestsBody.model_validate(json.loads(raw))
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            raise validation_to_invalid(exc) from exc
        raise Invalid(f"the body is not valid JSON: {exc}", field="body") from exc


async def put_manifests(request: web.Request) -> web.Response:
    deps = state.deps(request)
    target = FileTarget(params.repo(request), params.ref(request))
    prefix = params.path_query(request, "prefix")
    body = await _manifests_body(request)
    files = []
    for i, f in enumerate(body.files):
        name = f.path if f.path.startswith("/") else f"{prefix.rstrip('/')}/{f.path}"
        path = naming.normalize_path(name, field=f"files.{i}.path", allow_root=False)
        files.append((path, decode_manifest(f.manifest, field=f"files.{i}.manifest")))
    outcome = await deps.uploads.put_manifests(target, files, message=params.text(request, "message", "") or "")
    reply = BatchReply(commit=outcome.commit, files=outcome.files, bytes=outcome.bytes, atomic=outcome.atomic)
    return params.reply(reply, 201)


_R = "/repos/{repo}/refs/{ref}"
_PREFIX = q_str("prefix", "directory of relative paths")
_WRITE_ERRORS = (400, 404, 409, 413, 503)

ROUTES = (
    Route("GET", "/chunking", get_chunking, "getChunking", "How files are cut into chunks", "chunks",
          Action.SERVICE_READ, reply=ChunkingReply, errors=(),
          description="The parameters a client of the chunk protocol cuts and hashes with, so that equal "
                      "bytes get equal content ids whichever way they were uploaded."),
    Route("POST", "/repos/{repo}/chunks/missing", missing_chunks, "missingChunks",
          "Which chunks the store lacks", "chunks", Action.REPO_WRITE, body=MissingBody, reply=MissingReply,
          errors=(400, 404, 503)),
    Route("POST", "/repos/{repo}/chunks", put_chunks, "putChunks", "Upload chunks (verified by hash)",
          "chunks", Action.REPO_WRITE, body_media="chunks", reply=ChunksReply, errors=(400, 413, 503),
          description="A stream of frames (digest, length, bytes); each chunk is stored only if its bytes "
                      "hash to its digest, else the request fails with 400."),
    Route("POST", _R + "/manifests", put_manifests, "putManifests", "Commit files made of stored chunks",
          "chunks", Action.REPO_WRITE, status=201, body=ManifestsBody, reply=BatchReply, errors=_WRITE_ERRORS,
          query=(_PREFIX, MESSAGE),
          description="Each file is its packed manifest; a manifest naming a chunk the store lacks (or with "
                      "another length) is refused: 409 `conflict` listing the missing hashes. All files "
                      "land in one commit, or none."),
    Route("POST", _R + "/pack", put_pack, "putPack", "Upload many files as one pack stream", "files",
          Action.REPO_WRITE, status=201, body_media="pack", reply=BatchReply, errors=_WRITE_ERRORS,
          query=(_PREFIX, q_bool("append", "append each file to the file at its path"), MESSAGE),
          description="A length-prefixed stream of (path, size, bytes) records: the lean form of the "
                      "multipart upload. All files land in one commit, or none."),
)
