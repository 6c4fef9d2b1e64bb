"""AWS Signature Version 2 (HMAC-SHA1) for old S3 clients: header and query-string forms."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from tusk_ingest.s3.errors import AuthorizationHeaderMalformed, InvalidArgument

# The sub-resources that are part of the signed resource (the list botocore's HmacV1 signs).
SUBRESOURCES = frozenset({
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory", "lifecycle",
    "location", "logging", "metrics", "notification", "object-lock", "partNumber", "policy",
    "replication", "requestPayment", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "response-content-language", "response-content-type",
    "response-expires", "restore", "select", "select-type", "storageClass", "tagging", "torrent",
    "uploadId", "uploads", "versionId", "versioning", "versions", "website",
})
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class V2Signature:
    access_key: str
    signature: str
    presigned: bool
    expires: int | None = None  # epoch seconds, for query signatures


def parse_authorization(value: str) -> V2Signature:
    """`AWS AKID:base64signature`."""
    scheme, _, rest = value.strip().partition(" ")
    access_key, sep, signature = rest.strip().rpartition(":")
    if scheme != "AWS" or not sep or not access_key or not signature:
        raise AuthorizationHeaderMalformed("the authorization header is not 'AWS AccessKeyId:Signature'")
    return V2Signature(access_key=access_key, signature=signature, presigned=False)


def parse_presigned(query: Mapping[str, str]) -> V2Signature:
    """`?AWSAccessKeyId=...&Expires=EPOCH&Signature=...`."""
    try:
        expires = int(query["Expires"])
    except (KeyError, ValueError) as e:
        raise InvalidArgument("Expires must be a number of seconds since the epoch", field="Expires") from e
    if not query.get("AWSAccessKeyId") or not query.get("Signature"):
        raise AuthorizationHeaderMalformed("the presigned URL lacks AWSAccessKeyId or Signature")
    return V2Signature(query["AWSAccessKeyId"], query["Signature"], presigned=True, expires=expires)


def canonical_resource(raw_path: str, raw_query: str, *, vhost_bucket: str | None) -> str:
    """`[/bucket]/path[?subresource=value&...]`: path as sent, sub-resources decoded and sorted.

    A sub-resource sent without `=` (`?uploads`) is signed without it, one sent with it keeps it.
    """
    resource = (f"/{vhost_bucket}" if vhost_bucket else "") + (raw_path or "/")
    subs = []
    for part in raw_query.split("&"):
        name, sep, value = part.partition("=")
        if name in SUBRESOURCES:
            subs.append((name, f"{name}={unquote(value)}" if sep else name))
    if subs:
        subs.sort(key=lambda p: p[0])
        resource += "?" + "&".join(text for _, text in subs)
    return resource


def string_to_sign(
    method: str, headers: Mapping[str, list[str]], date: str, resource: str
) -> str:
    """VERB, Content-MD5, Content-Type, Date (or Expires), x-amz-* headers, then the resource."""
    first = {name: ",".join(values) for name, values in headers.items()}
    amz = sorted(
        (name, ",".join(_SPACES.sub(" ", v.strip()) for v in values))
        for name, values in headers.items()
        if name.startswith("x-amz-")
    )
    lines = [method, first.get("content-md5", "").strip(), first.get("content-type", "").strip(), date]
    return "\n".join(lines) + "\n" + "".join(f"{n}:{v}\n" for n, v in amz) + resource


def sign(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")
