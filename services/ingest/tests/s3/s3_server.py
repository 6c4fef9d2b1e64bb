"""The S3 gateway over a `MemoryDriver`, served by aiohttp on a free loopback port from a thread.

The server runs on its own event loop in a thread, so the tests drive it with real, blocking clients
(boto3, minio-py, http.client) exactly as users do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
from aiohttp import web
from botocore.config import Config

from tusk_ingest.s3 import GatewayConfig, MemoryDriver, StaticCredentials, make_s3_app

ACCESS_KEY = "tusk-test-key"
SECRET_KEY = "tusk/test+secret=with-odd-chars"
BASE_DOMAIN = "s3.tusk.test"


@dataclass
class Served:
    """A running gateway: where it listens and the driver behind it."""

    host: str
    port: int
    driver: MemoryDriver
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class ServerThread:
    """aiohttp serving one application on 127.0.0.1:0 from a background thread."""

    def __init__(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> None:
        self._app = app
        self._ssl = ssl_context
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="s3-gateway", daemon=True)
        self.port = 0
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self._app)
        try:
            self._loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._ssl)
            self._loop.run_until_complete(site.start())
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        except BaseException as e:  # surfaced by start()
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self.port

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)


def serve(driver: MemoryDriver, *, ssl_context: ssl.SSLContext | None = None,
          credentials: StaticCredentials | None = None, config: GatewayConfig | None = None) -> ServerThread:
    creds = credentials if credentials is not None else StaticCredentials({ACCESS_KEY: SECRET_KEY})
    app = make_s3_app(driver, creds, config=config or GatewayConfig(base_domain=BASE_DOMAIN))
    return ServerThread(app, ssl_context)


def client(url: str, **config: object) -> object:
    """A boto3 S3 client for the gateway, configured as a user would (path-style, no retries)."""
    options: dict[str, object] = {"s3": {"addressing_style": "path"}, "retries": {"max_attempts": 1}}
    options.update(config)
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, verify=False, config=Config(**options),  # type: ignore[arg-type]
    )


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context with a throw-away certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context
