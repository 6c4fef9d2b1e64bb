"""The `s3` backend: MinIO or any S3 through the (synchronous) `minio` SDK behind a bounded thread pool."""

from __future__ import annotations

import asyncio
import builtins
import io
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.helpers import check_bucket_name

from tusk_common.errors import Internal, Invalid, NotFound, TuskError, Unavailable
from tusk_common.settings import S3Settings
from tusk_common.store.backend import Data, check_key, joined

T = TypeVar("T")

_LIST_BATCH = 1000
# S3 error codes that mean "try again later" rather than "this request is wrong".
_RETRYABLE_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed"}
)
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject"})
_TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)
# Few, short retries: a store that stays unreachable must surface as `Unavailable` within seconds, and
# callers (consumers, clients) own the longer retry policy.
_RETRIES = urllib3.Retry(total=3, backoff_factor=0.1, status_forcelist=(500, 502, 503, 504))


def _endpoint(settings: S3Settings) -> tuple[str, bool]:
    """`host:port` and TLS flag; `TUSK_S3_ENDPOINT` may also be a URL (`https://minio:9000`)."""
    raw = settings.endpoint.strip()
    if not raw:
        raise Invalid("the s3 store backend needs TUSK_S3_ENDPOINT", field="endpoint")
    if "://" in raw:
        url = urlsplit(raw)
        return url.netloc, url.scheme == "https"
    return raw, settings.secure


class S3ObjectStore:
    """Objects in one bucket (created on `open()` if missing), keys below `settings.prefix`."""

    name = "s3"

    def __init__(self, settings: S3Settings) -> None:
        endpoint, secure = _endpoint(settings)
        try:
            check_bucket_name(settings.bucket)
        except ValueError as e:
            raise Invalid(str(e), field="bucket") from e
        access_key, secret_key = (
            settings.access_key.get_secret_value(),
            settings.secret_key.get_secret_value(),
        )
        if bool(access_key) != bool(secret_key):
            raise Invalid(
                "set both TUSK_S3_ACCESS_KEY and TUSK_S3_SECRET_KEY, or neither", field="secret_key"
            )
        self._http = urllib3.PoolManager(maxsize=settings.max_workers, timeout=_TIMEOUT, retries=_RETRIES)
        self._client = Minio(
            endpoint,
            access_key=access_key or None,  # neither: anonymous requests
            secret_key=secret_key or None,
            secure=secure,
            region=settings.region,
            http_client=self._http,
        )
        self.bucket = settings.bucket
        self._prefix = settings.prefix.strip("/") + "/" if settings.prefix.strip("/") else ""
        self._executor = ThreadPoolExecutor(settings.max_workers, thread_name_prefix="tusk-s3")

    async def open(self) -> None:
        """Check the server answers and create the bucket if it does not exist."""
        await self._run(self._open)

    def _open(self) -> None:
        if not self._client.bucket_exists(self.bucket):
            try:
                self._client.make_bucket(self.bucket)
            except S3Error as e:
                # Another process may have created it between the check and here.
                if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def _name(self, key: str) -> str:
        return self._prefix + check_key(key)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except TuskError:
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as e:
            _raise_mapped(e, self.bucket)

    async def put(self, key: str, data: Data) -> None:
        name = self._name(key)
        body = joined(data)
        await self._run(lambda: self._client.put_object(self.bucket, name, io.BytesIO(body), len(body)))

    async def put_many(self, items: Sequence[tuple[str, Data]]) -> None:
        await asyncio.gather(*(self.put(key, data) for key, data in items))

    async def get(self, key: str) -> bytes:
        return await self._run(self._get, key, self._name(key))

    async def get_with(self, key: str, then: Callable[[bytes], T]) -> T:
        name = self._name(key)
        return await self._run(lambda: then(self._get(key, name)))

    def _get(self, key: str, name: str) -> bytes:
        try:
            response = self._client.get_object(self.bucket, name)
        except S3Error as e:
            if e.code in _MISSING_CODES:
                raise NotFound(f"no object {key!r}", key=key) from e
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    async def head(self, key: str, n: int) -> tuple[bytes, int]:
        return await self._run(self._head, key, self._name(key), n)

    def _head(self, key: str, name: str, n: int) -> tuple[bytes, int]:
        try:
            size = self._client.stat_object(self.bucket, name).size or 0
            if not size or not n:
                return b"", size
            response = self._client.get_object(self.bucket, name, offset=0, length=min(n, size))
        except S3Error as e:
            if e.code in _MISSING_CODES:
                raise NotFound(f"no object {key!r}", key=key) from e
            raise
        try:
            return response.read(), size
        finally:
            response.close()
            response.release_conn()

    async def get_range(self, key: str, offset: int, length: int) -> bytes:
        return await self._run(self._get_range, key, self._name(key), offset, length)

    def _get_range(self, key: str, name: str, offset: int, length: int) -> bytes:
        if length <= 0:
            self._head(key, name, 0)  # NotFound still applies
            return b""
        try:
            response = self._client.get_object(self.bucket, name, offset=offset, length=length)
        except S3Error as e:
            if e.code in _MISSING_CODES:
                raise NotFound(f"no object {key!r}", key=key) from e
            if e.code == "InvalidRange":  # starts at or past the end
                return b""
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    async def exists(self, key: str) -> bool:
        return await self._run(self._exists, self._name(key))

    def _exists(self, name: str) -> bool:
        try:
            self._client.stat_object(self.bucket, name)
        except S3Error as e:
            if e.code in _MISSING_CODES:
                return False
            raise
        return True

    async def delete(self, key: str) -> None:
        name = self._name(key)
        await self._run(lambda: self._client.remove_object(self.bucket, name))

    async def list(self, prefix: str) -> AsyncIterator[str]:
        # minio pages through ListObjectsV2 lazily; pull a batch per hop so the loop never blocks.
        objects = self._client.list_objects(self.bucket, prefix=self._prefix + prefix, recursive=True)
        cut = len(self._prefix)
        while batch := await self._run(lambda: builtins.list(itertools.islice(objects, _LIST_BATCH))):
            for obj in batch:
                yield obj.object_name[cut:]

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, True)
        self._http.clear()

    def __repr__(self) -> str:
        return f"S3ObjectStore(bucket={self.bucket!r}, prefix={self._prefix!r})"


def _raise_mapped(e: Exception, bucket: str) -> NoReturn:
    """Turn an SDK or transport error into the Tusk taxonomy (retry semantics by type)."""
    if isinstance(e, S3Error):
        if e.code in _RETRYABLE_CODES:
            raise Unavailable(f"s3: {e.code}: {e.message}", bucket=bucket, s3_code=e.code) from e
        raise Internal(f"s3: {e.code}: {e.message}", bucket=bucket, s3_code=e.code) from e
    if isinstance(e, ServerError):
        raise Unavailable(f"s3 server error: HTTP {e.status_code}", bucket=bucket) from e
    if isinstance(e, InvalidResponseError):
        raise Unavailable(f"s3 gave an invalid response: {e}", bucket=bucket) from e
    raise Unavailable(f"s3 unreachable: {e}", bucket=bucket) from e
