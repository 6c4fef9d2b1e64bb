"""The S3-compatible gateway: S3's protocol over Tusk's versioned repos, behind a `Driver` port.

    app.py            route table, request pipeline (address → authenticate → dispatch → render errors)
    service_ops.py    ListBuckets
    bucket_ops.py     bucket create/delete/head, location, versioning, ListObjects v1/v2, ListObjectVersions
    object_ops.py     GET/HEAD/PUT/COPY/DELETE object, DeleteObjects
    multipart_ops.py  multipart uploads
    driver.py         the `Driver` port and its frozen value types
    memory_driver.py  an in-memory Driver with Tusk's semantics, for tests
    buckets.py        bucket names (REPO, BRANCH.REPO, COMMIT.BRANCH.REPO) and path/virtual-host addressing
    auth.py           SigV4 / SigV2 verification (sigv4.py, sigv2.py hold the algorithms)
    payload.py        request bodies: decoded, hashed and verified while streaming (chunked.py: aws-chunked)
    checksums.py      CRC32/CRC32C/CRC64NVME/SHA1/SHA256, Content-MD5, ETags, multipart composites
    conditions.py     ranges and conditional headers
    request.py        the S3Request handlers receive, limits, metadata headers
    xml.py            every response document and the parsing of request documents
    errors.py         S3 errors and the one mapping of any error to (status, S3 code)
"""

from tusk_ingest.s3.app import S3Gateway, add_s3_routes, make_s3_app
from tusk_ingest.s3.auth import Credentials, StaticCredentials
from tusk_ingest.s3.driver import Driver
from tusk_ingest.s3.memory_driver import MemoryDriver
from tusk_ingest.s3.request import GatewayConfig

__all__ = [
    "Credentials",
    "Driver",
    "GatewayConfig",
    "MemoryDriver",
    "S3Gateway",
    "StaticCredentials",
    "add_s3_routes",
    "make_s3_app",
]
