"""Operations on the service: ListBuckets."""

from __future__ import annotations

from aiohttp import web

from tusk_ingest.s3 import xml
from tusk_ingest.s3.request import S3Request, xml_response


async def list_buckets(req: S3Request) -> web.StreamResponse:
    buckets = await req.driver.list_buckets()
    return xml_response(xml.list_buckets((b.bucket.name, b.created) for b in buckets))
