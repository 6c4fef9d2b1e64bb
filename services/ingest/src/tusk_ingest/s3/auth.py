"""Who signed an S3 request: SigV4 (header or presigned query) and SigV2 (header or query).

`Authenticator.authenticate` checks the signature of the request line and headers before any body byte
is read; the body's own integrity (payload hash, chunk signatures) is checked while it streams, from
the `AuthResult` this returns.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

from tusk_ingest.s3 import sigv2, sigv4
from tusk_ingest.s3.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)

MAX_SKEW_SECONDS = 15 * 60


class Credentials(Protocol):
    """The secret of an access key, or None when the key is unknown."""

    async def secret_key(self, access_key: str) -> str | None: ...


class StaticCredentials:
    """Fixed access key → secret pairs (the gateway's configured keys)."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = dict(keys)

    async def secret_key(self, access_key: str) -> str | None:
        return self._keys.get(access_key)

    def __repr__(self) -> str:  # never show secrets
        return f"StaticCredentials({sorted(self._keys)!r})"


class SignedRequest(Protocol):
    """The parts of an HTTP request a signature covers (an aiohttp `web.Request` has them)."""

    @property
    def method(self) -> str: ...
    @property
    def raw_path(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The outcome of authentication, and what the body must still be checked against."""

    access_key: str | None  # None: anonymous, only when authentication is disabled
    payload_hash: str | None  # x-amz-content-sha256 of SigV4 requests
    chunk_signing: sigv4.ChunkSigning | None = None  # for STREAMING-AWS4-HMAC-SHA256-* bodies


class Authenticator:
    """Verifies request signatures against `credentials`; None disables authentication."""

    def __init__(
        self,
        credentials: Credentials | None,
        *,
        max_skew: float = MAX_SKEW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._max_skew = max_skew
        self._clock = clock

    async def authenticate(self, request: SignedRequest, *, vhost_bucket: str | None = None) -> AuthResult:
        raw_path, _, raw_query = request.raw_path.partition("?")
        pairs = sigv4.query_pairs(raw_query)
        query = dict(reversed(pairs))  # first value of each name
        headers = _by_name(request.headers)
        authorization = request.headers.get("Authorization", "")
        content_sha = request.headers.get("x-amz-content-sha256")
        if self._credentials is None:
            return AuthResult(access_key=None, payload_hash=content_sha)
        if authorization.startswith(sigv4.ALGORITHM):
            return await self._v4_header(request.method, raw_path, pairs, headers, authorization)
        if authorization.startswith("AWS "):
            return await self._v2(request.method, raw_path, raw_query, headers,
                                  sigv2.parse_authorization(authorization), vhost_bucket)
        if authorization:
            raise InvalidArgument("Unsupported Authorization Type", field="Authorization")
        if "X-Amz-Signature" in query or "X-Amz-Algorithm" in query:
            return await self._v4_presigned(request.method, raw_path, pairs, query, headers)
        if "Signature" in query and "AWSAccessKeyId" in query:
            return await self._v2(request.method, raw_path, raw_query, headers,
                                  sigv2.parse_presigned(query), vhost_bucket)
        raise AccessDenied("Anonymous access is not allowed; sign the request")

    # ------------------------------------------------------------------ SigV4

    async def _v4_header(
        self, method: str, raw_path: str, pairs: list[tuple[str, str]], headers: dict[str, list[str]],
        authorization: str,
    ) -> AuthResult:
        sig = sigv4.parse_authorization(authorization)
        secret = await self._secret(sig.credential.access_key)
        if "x-amz-date" in headers:
            when = sigv4.parse_amz_date(headers["x-amz-date"][0])
        elif "date" in headers:
            when = _http_date(headers["date"][0])
        else:
            raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
        amz_date = when.strftime(sigv4.AMZ_DATE_FORMAT)
        self._check_scope_date(sig.credential, amz_date)
        self._check_skew(when)
        payload_hash = headers.get("x-amz-content-sha256", [""])[0].strip()
        if not payload_hash:
            raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
        if not sigv4.is_payload_hash(payload_hash):
            raise InvalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a "
                                  "hex SHA-256", field="x-amz-content-sha256")
        key = self._verify_v4(method, raw_path, pairs, headers, sig, secret, amz_date, payload_hash,
                              exclude=frozenset())
        chunk_signing = None
        if payload_hash in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER):
            chunk_signing = sigv4.ChunkSigning(key, amz_date, sig.credential.scope, sig.signature)
        return AuthResult(sig.credential.access_key, payload_hash, chunk_signing)

    async def _v4_presigned(
        self, method: str, raw_path: str, pairs: list[tuple[str, str]], query: dict[str, str],
        headers: dict[str, list[str]],
    ) -> AuthResult:
        sig = sigv4.parse_presigned(query)
        secret = await self._secret(sig.credential.access_key)
        when = sigv4.parse_amz_date(query["X-Amz-Date"])
        amz_date = when.strftime(sigv4.AMZ_DATE_FORMAT)
        self._check_scope_date(sig.credential, amz_date)
        now = self._clock()
        if when.timestamp() - now > self._max_skew:
            raise AccessDenied("Request is not valid yet")
        if now > when.timestamp() + (sig.expires or 0):
            raise AccessDenied("Request has expired")
        payload_hash = query.get("X-Amz-Content-Sha256") or sigv4.UNSIGNED_PAYLOAD
        self._verify_v4(method, raw_path, pairs, headers, sig, secret, amz_date, payload_hash,
                        exclude=frozenset({"X-Amz-Signature"}))
        return AuthResult(sig.credential.access_key, payload_hash)

    def _verify_v4(
        self, method: str, raw_path: str, pairs: list[tuple[str, str]], headers: dict[str, list[str]],
        sig: sigv4.V4Signature, secret: str, amz_date: str, payload_hash: str, *, exclude: frozenset[str],
    ) -> bytes:
        cred = sig.credential
        key = sigv4.signing_key(secret, cred.date, cred.region, cred.service)
        query = sigv4.canonical_query(pairs, exclude=exclude)
        block = sigv4.canonical_headers(headers, sig.signed_headers)
        # AWS's rule (decode once, encode once) first; then the path exactly as sent, for clients that
        # sign their own wire encoding of characters AWS would encode differently.
        for uri in dict.fromkeys((sigv4.canonical_uri(raw_path), raw_path or "/")):
            canonical = sigv4.canonical_request(method, uri, query, block, sig.signed_headers, payload_hash)
            expected = sigv4.sign(key, sigv4.string_to_sign(amz_date, cred.scope, canonical))
            if hmac.compare_digest(expected, sig.signature):
                return key
        raise SignatureDoesNotMatch()

    def _check_scope_date(self, cred: sigv4.Credential, amz_date: str) -> None:
        if cred.date != amz_date[:8]:
            raise AuthorizationHeaderMalformed(
                f"the credential date {cred.date} is not the date of the request {amz_date[:8]}"
            )

    # ------------------------------------------------------------------ SigV2

    async def _v2(
        self, method: str, raw_path: str, raw_query: str, headers: dict[str, list[str]],
        sig: sigv2.V2Signature, vhost_bucket: str | None,
    ) -> AuthResult:
        secret = await self._secret(sig.access_key)
        if sig.presigned:
            if self._clock() > (sig.expires or 0):
                raise AccessDenied("Request has expired")
            dates = [str(sig.expires)]
        else:
            stamp = (headers.get("x-amz-date") or headers.get("date") or [""])[0]
            if not stamp:
                raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
            self._check_skew(_http_date(stamp))
            # With x-amz-date, the Date line is empty (AWS); some clients still sign their Date header.
            dates = ["", *headers.get("date", [])[:1]] if "x-amz-date" in headers else [stamp]
        paths = [raw_path]
        if vhost_bucket is None and raw_path.count("/") == 1 and len(raw_path) > 1:
            paths.append(raw_path + "/")  # a bucket is signed as `/bucket/` even when sent as `/bucket`
        for path in paths:
            resource = sigv2.canonical_resource(path, raw_query, vhost_bucket=vhost_bucket)
            for date in dates:
                expected = sigv2.sign(secret, sigv2.string_to_sign(method, headers, date, resource))
                if hmac.compare_digest(expected.encode(), sig.signature.encode()):
                    return AuthResult(sig.access_key, headers.get("x-amz-content-sha256", [None])[0])
        raise SignatureDoesNotMatch()

    # ------------------------------------------------------------------ shared

    async def _secret(self, access_key: str) -> str:
        assert self._credentials is not None
        secret = await self._credentials.secret_key(access_key)
        if secret is None:
            raise InvalidAccessKeyId(access_key=access_key)
        return secret

    def _check_skew(self, when: datetime) -> None:
        if abs(when.timestamp() - self._clock()) > self._max_skew:
            raise RequestTimeTooSkewed()


def _by_name(headers: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers.items():
        out.setdefault(name.lower(), []).append(value)
    return out


def _http_date(value: str) -> datetime:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            return sigv4.parse_amz_date(value)
        except AuthorizationHeaderMalformed:
            raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
