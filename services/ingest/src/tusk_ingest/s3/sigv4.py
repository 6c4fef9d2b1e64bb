"""AWS Signature Version 4 as S3 specifies it: canonical requests, scopes, keys and signatures.

Pure functions over strings; `auth.py` applies them to requests. S3 differs from other services in two
ways that matter here: the path is encoded once (no double encoding, no `.`/`..` normalization), and
`x-amz-content-sha256` carries the payload hash (a hex digest, `UNSIGNED-PAYLOAD` or `STREAMING-*`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote

from tusk_ingest.s3.errors import AuthorizationHeaderMalformed, InvalidArgument

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_PAYLOADS = frozenset({STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_SPACES = re.compile(r"\s+")


def uri_encode(value: str, *, keep_slash: bool) -> str:
    """Percent-encode every byte of the UTF-8 form except unreserved ones (and `/` in paths)."""
    out = []
    for byte in value.encode("utf-8"):
        if byte in _UNRESERVED or (keep_slash and byte == 0x2F):
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def canonical_uri(raw_path: str) -> str:
    """The path as AWS canonicalizes it for S3: decoded once, re-encoded once, `/` kept."""
    return uri_encode(unquote(raw_path), keep_slash=True) or "/"


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Decoded `(name, value)` pairs of a raw query string, in order; `+` stays a plus sign."""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def canonical_query(pairs: Iterable[tuple[str, str]], *, exclude: frozenset[str] = frozenset()) -> str:
    encoded = sorted(
        (uri_encode(n, keep_slash=False), uri_encode(v, keep_slash=False))
        for n, v in pairs
        if n not in exclude
    )
    return "&".join(f"{n}={v}" for n, v in encoded)


def canonical_headers(headers: Mapping[str, list[str]], signed: Iterable[str]) -> str:
    """`name:value\\n` per signed header; repeated headers joined by `,`, whitespace folded."""
    lines = []
    for name in signed:
        values = headers.get(name, [])
        lines.append(name + ":" + ",".join(_SPACES.sub(" ", v.strip()) for v in values) + "\n")
    return "".join(lines)


def canonical_request(
    method: str, uri: str, query: str, headers_block: str, signed: Iterable[str], payload_hash: str
) -> str:
    return "\n".join([method, uri, query, headers_block, ";".join(signed), payload_hash])


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


@lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def sign(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def parse_amz_date(value: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as e:
        raise AuthorizationHeaderMalformed(f"X-Amz-Date {value!r} is not in the form YYYYMMDDTHHMMSSZ") from e


def is_payload_hash(value: str) -> bool:
    return value in STREAMING_PAYLOADS or value == UNSIGNED_PAYLOAD or bool(_HEX_SHA256.match(value))


@dataclass(frozen=True, slots=True)
class Credential:
    """`AKID/20130524/us-east-1/s3/aws4_request`, split."""

    access_key: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def parse_credential(value: str) -> Credential:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not re.fullmatch(r"\d{8}", parts[1]):
        raise AuthorizationHeaderMalformed(f"the credential {value!r} is not AKID/DATE/REGION/SERVICE/aws4_request")
    if parts[3] != "s3":
        raise AuthorizationHeaderMalformed(f"the credential is scoped to service {parts[3]!r}, not 's3'")
    return Credential(access_key=parts[0], date=parts[1], region=parts[2], service=parts[3])


@dataclass(frozen=True, slots=True)
class V4Signature:
    """What a SigV4 request claims: who, when, over which headers, with which signature."""

    credential: Credential
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool
    expires: int | None = None


def parse_authorization(value: str) -> V4Signature:
    """`AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthorizationHeaderMalformed(f"the authorization algorithm {algorithm!r} is not supported")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, val = item.strip().partition("=")
        if sep:
            fields[name.strip()] = val.strip()
    missing = {"Credential", "SignedHeaders", "Signature"} - fields.keys()
    if missing:
        raise AuthorizationHeaderMalformed(f"the authorization header lacks {', '.join(sorted(missing))}")
    return V4Signature(
        credential=parse_credential(fields["Credential"]),
        signed_headers=_signed_headers(fields["SignedHeaders"]),
        signature=fields["Signature"].lower(),
        presigned=False,
    )


def parse_presigned(query: Mapping[str, str]) -> V4Signature:
    """The `X-Amz-*` parameters of a presigned URL."""
    if query.get("X-Amz-Algorithm") != ALGORITHM:
        raise AuthorizationHeaderMalformed("X-Amz-Algorithm must be AWS4-HMAC-SHA256")
    for name in ("X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Date", "X-Amz-Expires"):
        if not query.get(name):
            raise AuthorizationHeaderMalformed(f"the presigned URL lacks {name}")
    try:
        expires = int(query["X-Amz-Expires"])
    except ValueError as e:
        raise InvalidArgument("X-Amz-Expires must be a number of seconds", field="X-Amz-Expires") from e
    if not 0 <= expires <= MAX_PRESIGN_EXPIRES:
        raise InvalidArgument("X-Amz-Expires must be between 0 and 604800 seconds", field="X-Amz-Expires")
    return V4Signature(
        credential=parse_credential(query["X-Amz-Credential"]),
        signed_headers=_signed_headers(query["X-Amz-SignedHeaders"]),
        signature=query["X-Amz-Signature"].lower(),
        presigned=True,
        expires=expires,
    )


def _signed_headers(value: str) -> tuple[str, ...]:
    names = tuple(h.strip().lower() for h in value.split(";") if h.strip())
    if not names:
        raise AuthorizationHeaderMalformed("SignedHeaders is empty")
    return names


# ------------------------------------------------------------------ streaming (aws-chunked) signatures


@dataclass(frozen=True, slots=True)
class ChunkSigning:
    """What the chunk signatures of a `STREAMING-AWS4-HMAC-SHA256-*` body chain from."""

    key: bytes
    amz_date: str
    scope: str
    seed_signature: str

    def chunk_signature(self, previous: str, chunk_sha256_hex: str) -> str:
        return sign(
            self.key,
            "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, previous, EMPTY_SHA256,
                       chunk_sha256_hex]),
        )

    def trailer_signature(self, previous: str, canonical_trailers: bytes) -> str:
        return sign(
            self.key,
            "\n".join(["AWS4-HMAC-SHA256-TRAILER", self.amz_date, self.scope, previous,
                       hashlib.sha256(canonical_trailers).hexdigest()]),
        )
