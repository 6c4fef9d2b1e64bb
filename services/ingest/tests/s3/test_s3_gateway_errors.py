"""What goes wrong, against the real gateway: signatures, malformed XML, bad ranges, odd keys, a read
that breaks mid-body; and how the ingest configures the gateway's keys."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
import urllib3
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from s3_server import ServerThread
from tusk_stack import ACCESS_KEY, SECRET_KEY, GatewayThread, unique

from tusk_ingest.app import s3_gateway
from tusk_ingest.s3 import MemoryDriver, make_s3_app
from tusk_ingest.settings import IngestSettings

pytestmark = pytest.mark.xdist_group("s3-gateway-errors")


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def _client(url: str, key: str, secret: str, **config: Any) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config))


def _signed(gateway: GatewayThread, method: str, path: str, body: bytes = b"",
            headers: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
    request = AWSRequest(method=method, url=gateway.url + path, data=body, headers=headers or {})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    sent = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    return urllib3.request(method, gateway.url + path, body=body, headers=sent, retries=False)


def test_bad_signatures_and_unknown_keys_are_refused_and_store_nothing(tusk_gateway: GatewayThread) -> None:
    repo = unique()
    tusk_gateway.boto3().create_bucket(Bucket=repo)
    with pytest.raises(ClientError) as err:
        _client(tusk_gateway.url, ACCESS_KEY, "wrong-secret").put_object(Bucket=repo, Key="k", Body=b"x")
    assert _code(err) == "SignatureDoesNotMatch"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as err:
        _client(tusk_gateway.url, "nobody", SECRET_KEY).list_objects_v2(Bucket=repo)
    assert _code(err) == "InvalidAccessKeyId"
    with pytest.raises(ClientError) as err:
        _client(tusk_gateway.url, "x", "y", signature_version=UNSIGNED).get_object(Bucket=repo, Key="k")
    assert _code(err) == "AccessDenied"
    assert tusk_gateway.boto3().list_objects_v2(Bucket=repo)["KeyCount"] == 0


def test_malformed_xml_bodies(tusk_gateway: GatewayThread) -> None:
    repo = unique()
    s3 = tusk_gateway.boto3()
    s3.create_bucket(Bucket=repo)
    s3.put_object(Bucket=repo, Key="keep", Body=b"x")
    body = b"<Delete><Object><Key>keep</Key></Object"
    r = _signed(tusk_gateway, "POST", f"/{repo}?delete", body,
                {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()})
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.data
    upload = s3.create_multipart_upload(Bucket=repo, Key="mp")["UploadId"]
    r = _signed(tusk_gateway, "POST", f"/{repo}/mp?uploadId={upload}", b"<CompleteMultipartUpload><Part>")
    assert r.status == 400 and b"<Code>MalformedXML</Code>" in r.data
    assert s3.get_object(Bucket=repo, Key="keep")["Body"].read() == b"x"


def test_ranges_outside_the_object_are_416_and_backwards_ones_are_ignored(tusk_gateway: GatewayThread) -> None:
    repo = unique()
    s3 = tusk_gateway.boto3()
    s3.create_bucket(Bucket=repo)
    s3.put_object(Bucket=repo, Key="ten", Body=b"0123456789")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=repo, Key="ten", Range="bytes=100-200")
    assert _code(err) == "InvalidRange"
    assert err.value.response["ResponseMetadata"]["HTTPHeaders"]["content-range"] == "bytes */10"
    assert s3.get_object(Bucket=repo, Key="ten", Range="bytes=5-2")["Body"].read() == b"0123456789"
    assert s3.get_object(Bucket=repo, Key="ten", Range="bytes=8-100")["Body"].read() == b"89"


def test_unicode_keys_with_spaces_and_reserved_characters(tusk_gateway: GatewayThread) -> None:
    repo = unique()
    s3 = tusk_gateway.boto3()
    s3.create_bucket(Bucket=repo)
    keys = ["dir with space/ünï côdé+plus%25.txt", "日本語/ファイル 1.csv", "a/b c/d&e=f?g#h.txt", "emoji 🐘.bin"]
    for key in keys:
        s3.put_object(Bucket=repo, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=repo, Key=key)["Body"].read() == key.encode()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=repo)["Contents"]] == sorted(keys, key=lambda k: k.encode())
    listed = s3.list_objects_v2(Bucket=repo, EncodingType="url")  # asked for explicitly: left encoded
    assert [unquote(o["Key"]) for o in listed["Contents"]] == sorted(keys, key=lambda k: k.encode())
    s3.copy_object(Bucket=repo, Key="copies/" + keys[0], CopySource={"Bucket": repo, "Key": keys[0]})
    assert s3.head_object(Bucket=repo, Key="copies/" + keys[0])["ContentLength"] == len(keys[0].encode())
    s3.delete_objects(Bucket=repo, Delete={"Objects": [{"Key": k} for k in keys]})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=repo)["Contents"]] == ["copies/" + keys[0]]
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=repo, Key="a//double-slash", Body=b"x")
    assert _code(err) == "InvalidArgument"


def test_a_read_that_breaks_after_the_headers_cuts_the_connection(tusk_gateway: GatewayThread) -> None:
    repo = unique()
    s3 = tusk_gateway.boto3()
    s3.create_bucket(Bucket=repo)
    s3.put_object(Bucket=repo, Key="big", Body=os.urandom(3 * 1024 * 1024))
    content = tusk_gateway.run(tusk_gateway.versioning.inspect_file(repo, "master", "/big")).content
    refs = tusk_gateway.run(tusk_gateway.ingest.deps.store.manifest(content))  # type: ignore[union-attr]
    objects = Path(tusk_gateway.settings.store.path)
    (objects / "chunks" / refs[-1].hash[:2] / refs[-1].hash).unlink()  # the last chunk is lost
    with pytest.raises(urllib3.exceptions.ProtocolError, match="IncompleteRead"):
        _signed(tusk_gateway, "GET", f"/{repo}/big")  # 200 and its length went out: the body is cut short
    r = _signed(tusk_gateway, "GET", f"/{repo}/big", headers={"Range": "bytes=0-99"})
    assert r.status == 206 and len(r.data) == 100  # what is intact still reads


def test_the_gateway_keys_come_from_settings_and_without_them_everything_is_refused(tmp_path: Path) -> None:
    def serve(**fields: Any) -> tuple[str, Any]:
        settings = IngestSettings(http_addr="127.0.0.1:0", **fields)
        parts = s3_gateway(settings, None, None, None)  # type: ignore[arg-type]
        thread = ServerThread(make_s3_app(MemoryDriver(), parts.credentials))
        return parts.auth_mode, thread

    mode, thread = serve()
    url = f"http://127.0.0.1:{thread.start()}"
    try:
        assert mode == "refused"
        with pytest.raises(ClientError) as err:
            _client(url, ACCESS_KEY, SECRET_KEY).list_buckets()
        assert _code(err) == "AccessDenied" and "TUSK_S3_GATEWAY_ACCESS_KEY" in err.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as err:
            _client(url, "x", "y", signature_version=UNSIGNED).list_buckets()
        assert _code(err) == "AccessDenied"
    finally:
        thread.stop()
    mode, thread = serve(s3_gateway_allow_anonymous=True)
    url = f"http://127.0.0.1:{thread.start()}"
    try:
        assert mode == "anonymous"
        _client(url, "x", "y", signature_version=UNSIGNED).create_bucket(Bucket="open")
    finally:
        thread.stop()
    mode, _ = serve(s3_gateway_access_key=ACCESS_KEY, s3_gateway_secret_key=SECRET_KEY)
    assert mode == "keys"
    with pytest.raises(ValueError, match="TUSK_S3_GATEWAY_SECRET_KEY"):
        IngestSettings(s3_gateway_access_key=ACCESS_KEY)
