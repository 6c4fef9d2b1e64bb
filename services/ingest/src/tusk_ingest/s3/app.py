"""The S3 gateway as aiohttp routes: address, authenticate, dispatch to an operation, render errors.

`add_s3_routes(app, driver, credentials)` mounts the gateway at `/` of an existing application (after
its own routes, which keep precedence) and claims virtual-host requests (`Host: bucket.BASE_DOMAIN`)
before any other route; `make_s3_app` builds a stand-alone application.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from aiohttp import web

from tusk_ingest.entrypoints.http.tracing import name_route, tracing_middleware
from tusk_ingest.s3 import bucket_ops, multipart_ops, object_ops, service_ops, xml
from tusk_ingest.s3.auth import Authenticator, Credentials
from tusk_ingest.s3.buckets import Address, Addressing, parse_bucket
from tusk_ingest.s3.driver import COMMIT_GROUP_HEADER, Driver, commit_group
from tusk_ingest.s3.errors import InvalidArgument, MethodNotAllowed, Unsupported, to_s3
from tusk_ingest.s3.request import GatewayConfig, S3Request, StreamAborted, parse_query

log = logging.getLogger(__name__)

MAX_COMMIT_GROUP_MS = 3_600_000

Handler = Callable[[S3Request], Awaitable[web.StreamResponse]]

# Sub-resources of features Tusk does not have: answered 501 NotImplemented, never ignored.
UNSUPPORTED = frozenset({
    "accelerate", "acl", "analytics", "attributes", "cors", "encryption", "intelligent-tiering",
    "inventory", "legal-hold", "lifecycle", "logging", "metadataTable", "metrics", "notification",
    "object-lock", "ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication",
    "requestPayment", "restore", "retention", "select", "session", "tagging", "torrent", "website",
})


def route(method: str, address: Address, q: Mapping[str, str], h: Mapping[str, str]) -> Handler:
    """The operation a request asks for, from method, bucket/key presence and sub-resources."""
    unsupported = sorted(UNSUPPORTED.intersection(q))
    if unsupported:
        raise Unsupported(f"the {unsupported[0]!r} sub-resource is not supported by the Tusk S3 gateway")
    if address.bucket_name is None:
        if method in ("GET", "HEAD"):
            return service_ops.list_buckets
        raise MethodNotAllowed()
    if address.key is None:
        return _bucket_route(method, q)
    return _object_route(method, q, h)


def _bucket_route(method: str, q: Mapping[str, str]) -> Handler:
    if method == "GET":
        for param, handler in (("location", bucket_ops.get_location), ("versioning", bucket_ops.get_versioning),
                               ("versions", bucket_ops.list_versions), ("uploads", multipart_ops.list_uploads)):
            if param in q:
                return handler
        return bucket_ops.list_objects
    if method == "HEAD":
        return bucket_ops.head_bucket
    if method == "PUT":
        return bucket_ops.put_versioning if "versioning" in q else bucket_ops.create_bucket
    if method == "DELETE":
        return bucket_ops.delete_bucket
    if method == "POST" and "delete" in q:
        return object_ops.delete_objects
    if method == "POST":
        raise Unsupported("browser-based POST uploads are not supported")
    raise MethodNotAllowed()


def _object_route(method: str, q: Mapping[str, str], h: Mapping[str, str]) -> Handler:
    upload = "uploadId" in q
    if method == "GET":
        return multipart_ops.list_parts if upload else object_ops.get_object
    if method == "HEAD":
        return object_ops.head_object
    if method == "PUT":
        copy = "x-amz-copy-source" in h
        if upload or "partNumber" in q:
            return multipart_ops.upload_part_copy if copy else multipart_ops.upload_part
        return object_ops.copy_object if copy else object_ops.put_object
    if method == "POST":
        if "uploads" in q:
            return multipart_ops.create_upload
        if upload:
            return multipart_ops.complete_upload
        raise Unsupported("this POST operation is not supported")
    if method == "DELETE":
        return multipart_ops.abort_upload if upload else object_ops.delete_object
    raise MethodNotAllowed()


class S3Gateway:
    """Serves S3 requests over a `Driver`; `credentials` None turns authentication off."""

    def __init__(
        self, driver: Driver, credentials: Credentials | None, *, config: GatewayConfig | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.driver = driver
        self.config = config or GatewayConfig()
        self.addressing = Addressing(self.config.base_domain)
        self.authenticator = authenticator or Authenticator(credentials)

    def claims(self, request: web.BaseRequest) -> bool:
        """Whether a request is for a virtual-host bucket (and so never for the REST API)."""
        return self.addressing.vhost_bucket(request.host) is not None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = uuid.uuid4().hex[:16].upper()
        address = Address(None, None)
        try:
            raw_path, _, raw_query = request.raw_path.partition("?")
            address = self.addressing.resolve(request.host, raw_path)
            name_route(request.method, _route_template(address))
            auth = await self.authenticator.authenticate(
                request, vhost_bucket=address.bucket_name if address.virtual_host else None
            )
            query = parse_query(raw_query)
            handler = route(request.method, address, query, request.headers)
            name_route(request.method, _route_template(address), **{"tusk.s3.operation": handler.__name__})
            bucket = parse_bucket(address.bucket_name) if address.bucket_name is not None else None
            s3req = S3Request(request, self.driver, self.config, address, bucket, query, auth, request_id)
            token = commit_group.set(_commit_group(request.headers.get(COMMIT_GROUP_HEADER)))
            try:
                response = await handler(s3req)
            finally:
                commit_group.reset(token)
        except (web.HTTPException, StreamAborted):
            raise
        except Exception as e:
            return self._error(request, e, address, request_id)
        if not response.prepared:
            response.headers["x-amz-request-id"] = request_id
        return response

    def _error(self, request: web.Request, exc: Exception, address: Address, request_id: str) -> web.Response:
        info = to_s3(exc, names_key=address.key is not None)
        if info.status >= 500:
            log.error("s3 %s %s failed: %s", request.method, address.resource, type(exc).__name__,
                      exc_info=exc)
        headers = {"x-amz-request-id": request_id}
        if info.code == "InvalidRange" and "size" in info.details:
            headers["Content-Range"] = f"bytes */{info.details['size']}"
        if request.method == "HEAD":  # HEAD has no body: the status (and the header) tell it all
            return web.Response(status=info.status, headers=headers)
        body = xml.error(info.code, info.message, resource=address.resource, request_id=request_id,
                         **_extra(info.code, info.details))
        return web.Response(status=info.status, body=body, content_type="application/xml", headers=headers)


def _route_template(address: Address) -> str:
    """The span's route: which kind of resource, never the names themselves."""
    if address.bucket_name is None:
        return "/"
    return "/{bucket}" if address.key is None else "/{bucket}/{key}"


def _commit_group(value: str | None) -> int | None:
    """`x-tusk-commit-group: MS`, 1 ms to 1 hour of idleness before the group commit finishes."""
    if value is None:
        return None
    try:
        ms = int(value.strip())
    except ValueError:
        ms = 0
    if not 1 <= ms <= MAX_COMMIT_GROUP_MS:
        raise InvalidArgument(f"{COMMIT_GROUP_HEADER} must be a number of milliseconds from 1 to "
                              f"{MAX_COMMIT_GROUP_MS}", header=COMMIT_GROUP_HEADER)
    return ms


def _extra(code: str, details: dict[str, object]) -> dict[str, object]:
    """Fields S3 adds to some error documents, that clients read (e.g. the bucket of NoSuchBucket)."""
    if code == "NoSuchBucket" and "bucket" in details:
        return {"BucketName": details["bucket"]}
    if code == "NoSuchKey" and "key" in details:
        return {"Key": details["key"]}
    if code == "NoSuchUpload" and "upload_id" in details:
        return {"UploadId": details["upload_id"]}
    return {}


def _vhost_middleware(gateway: S3Gateway) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def s3_virtual_host(request: web.Request, handler: Callable[..., Awaitable[web.StreamResponse]]):
        if gateway.claims(request):
            return await gateway.handle(request)
        return await handler(request)

    return s3_virtual_host


def add_s3_routes(
    app: web.Application, driver: Driver, credentials: Credentials | None, *,
    config: GatewayConfig | None = None,
) -> S3Gateway:
    """Mounts the gateway at `/` of `app`: call it after adding the app's own routes."""
    gateway = S3Gateway(driver, credentials, config=config)
    if gateway.config.base_domain:
        app.middlewares.append(_vhost_middleware(gateway))
    app.router.add_route("*", "/{tail:.*}", gateway.handle)
    return gateway


def make_s3_app(
    driver: Driver, credentials: Credentials | None, *, base_domain: str | None = None,
    config: GatewayConfig | None = None,
) -> web.Application:
    """A stand-alone application serving only the S3 gateway."""
    config = config or GatewayConfig()
    if base_domain is not None:
        config = replace(config, base_domain=base_domain)
    app = web.Application(client_max_size=xml.MAX_DOCUMENT, middlewares=[tracing_middleware])
    add_s3_routes(app, driver, credentials, config=config)
    return app
