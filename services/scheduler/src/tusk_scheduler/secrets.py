"""Secrets: Kubernetes-Secret-like documents, sealed at rest, opened only for a running job's worker.

No reply, event, log line or error message carries a value: errors name the key, never its content.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from tusk_common.errors import AlreadyExists, Conflict, Invalid, NotFound
from tusk_common.naming import check_name
from tusk_common.wire.pipelines import SecretInfo, SecretList, SecretValues
from tusk_scheduler.adapters import catalog
from tusk_scheduler.deps import Deps
from tusk_scheduler.domain.spec import spec_from_dict
from tusk_scheduler.records import secret_info

KEY_RE = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_ALLOWED = {"apiVersion", "kind", "metadata", "type", "data", "stringData", "immutable"}


def parse_secret(doc: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(name, type, {key: value}) from a Secret document; `stringData` wins over `data` as in Kubernetes."""
    unknown = sorted(set(doc) - _ALLOWED)
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field of a secret", field=unknown[0])
    if doc.get("kind", "Secret") != "Secret":
        raise Invalid("kind must be 'Secret'", field="kind")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise Invalid("metadata.name is required", field="metadata.name")
    name = check_name(meta["name"], field="metadata.name")
    stype = doc.get("type", "Opaque")
    if not isinstance(stype, str):
        raise Invalid("type must be a string", field="type")
    values: dict[str, str] = {}
    for section in ("data", "stringData"):
        entries = doc.get(section) or {}
        if not isinstance(entries, dict):
            raise Invalid(f"{section} must be an object", field=section)
        for key, raw in entries.items():
            field = f"{section}.{key}"
            if not isinstance(key, str) or not KEY_RE.match(key):
                raise Invalid(f"{field}: a key is 1-253 of letters, digits, '-', '_' or '.'", field=field)
            if not isinstance(raw, str):
                raise Invalid(f"{field} must be a string", field=field)
            if section == "data":
                try:
                    raw = base64.b64decode(raw, validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    raise Invalid(f"{field} is not base64 of UTF-8 text (use stringData for text)",
                                  field=field) from None  # fmt: skip
            values[key] = raw
    if not values:
        raise Invalid("a secret needs at least one key in data or stringData", field="data")
    return name, stype, values


async def create_secret(deps: Deps, doc: dict[str, Any], update: bool) -> SecretInfo:
    name, stype, values = parse_secret(doc)
    nonce, sealed = deps.box.seal(name, values)
    async with deps.pool.acquire() as conn:
        if update:
            row = await conn.fetchrow(
                "INSERT INTO secrets (name, type, keys, nonce, sealed) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (name) DO UPDATE SET type = excluded.type, keys = excluded.keys,"
                " nonce = excluded.nonce, sealed = excluded.sealed, updated_at = now() RETURNING *",
                name, stype, sorted(values), nonce, sealed,
            )  # fmt: skip
        else:
            row = await conn.fetchrow(
                "INSERT INTO secrets (name, type, keys, nonce, sealed) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (name) DO NOTHING RETURNING *",
                name, stype, sorted(values), nonce, sealed,
            )  # fmt: skip
            if row is None:
                raise AlreadyExists(f"secret {name!r} already exists (update it with --update)", secret=name)
    return secret_info(row)


async def inspect_secret(deps: Deps, name: str) -> SecretInfo:
    async with deps.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM secrets WHERE name = $1", name)
    if row is None:
        raise NotFound(f"secret {name!r} not found", secret=name)
    return secret_info(row)


async def list_secrets(deps: Deps) -> SecretList:
    async with deps.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM secrets ORDER BY name")
    return SecretList(secrets=[secret_info(r) for r in rows])


async def delete_secret(deps: Deps, name: str) -> None:
    async with deps.pool.acquire() as conn:
        users = [
            r["pipeline"]
            for r in await conn.fetch(
                "SELECT p.name AS pipeline FROM pipelines p JOIN pipeline_versions v"
                " ON v.pipeline = p.name AND v.version = p.version"
                " WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(v.spec->'transform'->'secrets',"
                " '[]'::jsonb)) s WHERE s->>'name' = $1)",
                name,
            )
        ]
        if users:
            raise Conflict(f"secret {name!r} is used by pipeline(s) {', '.join(users)}", secret=name,
                           pipelines=users)  # fmt: skip
        status = await conn.execute("DELETE FROM secrets WHERE name = $1", name)
    if status.endswith(" 0"):
        raise NotFound(f"secret {name!r} not found", secret=name)


async def resolve(deps: Deps, job_id: str) -> SecretValues:
    """The values of the secrets a running job's transform references."""
    async with deps.pool.acquire() as conn:
        job = await catalog.get_job(conn, job_id)
        if job is None or job["state"] not in ("starting", "running"):
            raise NotFound(f"no running job {job_id}", job=job_id)
        version = await catalog.require_version(conn, job["pipeline"], job["pipeline_version"])
        names = sorted({s.name for s in spec_from_dict(version["spec"]).transform.secrets})
        rows = await conn.fetch("SELECT * FROM secrets WHERE name = ANY($1::text[])", names)
    found = {r["name"]: r for r in rows}
    out: dict[str, dict[str, str]] = {}
    for name in names:
        row = found.get(name)
        if row is None:
            raise NotFound(f"secret {name!r} (used by pipeline {job['pipeline']}) not found", secret=name)
        out[name] = deps.box.open(name, bytes(row["nonce"]), bytes(row["sealed"]))
    return SecretValues(secrets=out)
