"""Large lists (a datum's input files, a datum's outputs) kept in the chunk store as JSON."""

from __future__ import annotations

import json
from typing import Any

from tusk_common.store import ChunkStore
from tusk_common.wire.versioning import FileContent


async def put_json(store: ChunkStore, value: Any) -> FileContent:
    return await store.write_bytes(json.dumps(value, separators=(",", ":")).encode())


async def get_json(store: ChunkStore, ref: FileContent) -> Any:
    data = bytearray()
    async for block in store.read(ref):
        data += block
    return json.loads(bytes(data))
