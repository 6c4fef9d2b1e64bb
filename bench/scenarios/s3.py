"""s3: the S3 gateway driven by boto3 as users drive it. A "1 GiB" random object PUT and GET as multipart
transfers (8 MiB parts, 8 at once) against the disk's sequential speeds and against the same client
talking to moto's standalone S3 server in the same run; the ingest's peak RSS meanwhile; then 1,000
small objects PUT and GET by 8 client threads (objects/s), plain and with `x-tusk-commit-group`.

A third reference shows what the client itself can do on this machine: the same transfers against a
null S3 server (aiohttp, in its own process: parts are read and dropped, big GETs served from memory,
small objects kept in a dict, no signature checked). No server can make boto3 go faster than that."""

from __future__ import annotations

import contextlib
import hashlib
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import workload
from bench.context import Context, Outcome, Scenario
from bench.report import Row, at_least, at_most, notes
from bench.rss import RssSampler
from bench.sizes import KiB, MiB, human
from bench.stack import S3_ACCESS_KEY, S3_SECRET_KEY
from bench.toolbox import Unavailable
from bench.workdir import warm

NAME = "s3"
SEED_S3 = 6  # not the big file of put-1g: chunks it stored must not make this upload free
PART = 8 * MiB
CONCURRENCY = 8
SMALL_COUNT = 1000
SMALL_SIZE = 1 * KiB
GROUP_MS = 2000


@dataclass(frozen=True)
class Figures:
    put_mib_s: float
    get_mib_s: float
    small_put_s: float  # objects per second
    small_get_s: float
    grouped_put_s: float | None = None
    rss: RssSampler | None = None
    note: str = ""


def _client(url: str, key: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                    max_pool_connections=CONCURRENCY * 2)
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=config)


def _big(ctx: Context) -> Path:
    return workload.random_file(ctx.work.inputs / "s3" / "big.bin", ctx.sizes.big_file, SEED_S3)


def _transfer(ctx: Context, s3: Any, bucket: str, path: Path, *, check: bool = True) -> tuple[float, float, str]:
    """MiB/s of the multipart PUT (warm input) and GET (cold page cache), and a note."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=CONCURRENCY,
                            use_threads=True)
    size = path.stat().st_size
    warm(path)
    t0 = time.perf_counter()
    s3.upload_file(str(path), bucket, "big.bin", Config=config)
    put = size / MiB / (time.perf_counter() - t0)
    out = ctx.work.scratch(NAME) / f"{bucket}.out"
    cold = ctx.work.drop_caches()
    t0 = time.perf_counter()
    s3.download_file(bucket, "big.bin", str(out), Config=config)
    get = size / MiB / (time.perf_counter() - t0)
    note = "" if cold else "page cache not dropped before the GET"
    if check and _md5(out) != _md5(path):  # checked outside the timing
        note = notes(note, "CONTENT MISMATCH after the GET")
    out.unlink()
    return put, get, note


def _small(s3: Any, bucket: str, prefix: str) -> tuple[float, float]:
    """Objects/s of SMALL_COUNT PUTs, then of as many GETs, from CONCURRENCY threads."""
    rng = random.Random(SEED_S3)
    bodies = [rng.randbytes(SMALL_SIZE) for _ in range(SMALL_COUNT)]

    def put(i: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{i:04d}.bin", Body=bodies[i])

    def get(i: int) -> None:
        if s3.get_object(Bucket=bucket, Key=f"{prefix}/{i:04d}.bin")["Body"].read() != bodies[i]:
            raise RuntimeError(f"small object {i} came back different")

    return _rate(put), _rate(get)


def _rate(one: Callable[[int], None]) -> float:
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        t0 = time.perf_counter()
        list(pool.map(one, range(SMALL_COUNT)))
        return SMALL_COUNT / (time.perf_counter() - t0)


def _grouped(s3: Any) -> Any:
    def add_header(request: Any, **_kw: Any) -> None:
        request.headers["x-tusk-commit-group"] = str(GROUP_MS)

    s3.meta.events.register("before-sign.s3.PutObject", add_header)
    return s3


def _tusk(ctx: Context) -> Figures:
    stack = ctx.stack()
    s3 = _client(stack.url, S3_ACCESS_KEY, S3_SECRET_KEY)
    s3.create_bucket(Bucket="bench-s3")
    pid = ctx.attempt(lambda: stack.service_pid("ingest"))
    path = _big(ctx)
    sampler = RssSampler(pid.value) if pid.value else None
    with sampler or contextlib.nullcontext():
        put, get, note = _transfer(ctx, s3, "bench-s3", path)
    small_put, small_get = _small(s3, "bench-s3", "small")
    grouped, _ = _small(_grouped(_client(stack.url, S3_ACCESS_KEY, S3_SECRET_KEY)), "bench-s3", "grouped")
    return Figures(put, get, small_put, small_get, grouped, sampler, notes(note, pid.error))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _moto_server() -> Iterator[str]:
    """moto's standalone S3 server (the `moto_server` of the bench's venv) on a free loopback port."""
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.exists():
        raise Unavailable("moto_server is not installed (pip install 'moto[server]')")
    with _server([str(binary), "-H", "127.0.0.1", "-p", "{port}"], "moto_server") as url:
        yield url


def _moto(ctx: Context) -> Figures:
    with _moto_server() as url:
        s3 = _client(url, "bench", "bench")
        s3.create_bucket(Bucket="bench-s3")
        put, get, note = _transfer(ctx, s3, "bench-s3", _big(ctx))
        small_put, small_get = _small(s3, "bench-s3", "small")
    return Figures(put, get, small_put, small_get, note=note)


# The null S3 server: just enough of S3 for boto3's transfers and small PUT/GET, doing no work of its own.
_NULL_SERVER = r"""
import re, sys
from aiohttp import web

port, big = int(sys.argv[1]), bytes(int(sys.argv[2]))
small = {}
LISTING = '<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>'

async def handle(req):
    q, key = req.query, req.match_info["tail"]
    if req.method == "POST" and "uploads" in q:
        return web.Response(text="<InitiateMultipartUploadResult><UploadId>u</UploadId></InitiateMultipartUploadResult>",
                            content_type="application/xml")
    if req.method == "POST":
        await req.read()
        return web.Response(text='<CompleteMultipartUploadResult><ETag>"e-1"</ETag></CompleteMultipartUploadResult>',
                            content_type="application/xml")
    if req.method == "PUT":
        if "partNumber" in q or "/" not in key:
            async for _ in req.content.iter_any():
                pass
        else:
            small[key] = await req.read()
        return web.Response(headers={"ETag": '"e"'})
    if req.method == "GET" and "/" not in key:
        return web.Response(text=LISTING, content_type="application/xml")
    data = small.get(key, big)
    head = {"ETag": '"e"', "Last-Modified": "Sun, 01 Nov 2026 00:00:00 GMT", "Accept-Ranges": "bytes"}
    if req.method == "HEAD":
        return web.Response(headers={**head, "Content-Length": str(len(data))})
    m = re.fullmatch(r"bytes=(\d+)-(\d*)", req.headers.get("Range", ""))
    start, stop = (int(m[1]), min(len(data), int(m[2] or len(data) - 1) + 1)) if m else (0, len(data))
    if m:
        head["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
    resp = web.StreamResponse(status=206 if m else 200, headers=head)
    resp.content_length = stop - start
    await resp.prepare(req)
    view = memoryview(data)
    for at in range(start, stop, 1 << 20):
        await resp.write(view[at:min(stop, at + (1 << 20))])
    await resp.write_eof()
    return resp

app = web.Application(client_max_size=1 << 30)
app.router.add_route("*", "/{tail:.*}", handle)
web.run_app(app, host="127.0.0.1", port=port, print=None)
"""


@contextlib.contextmanager
def _server(args: list[str], name: str) -> Iterator[str]:
    """A server process on a free loopback port (`{port}` in `args`), stopped afterwards."""
    port = _free_port()
    proc = subprocess.Popen([a.replace("{port}", str(port)) for a in args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise Unavailable(f"{name} did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ceiling(ctx: Context) -> Figures:
    """boto3 against the null server: the client's own ceiling on this machine, in this run."""
    path = _big(ctx)
    with _server([sys.executable, "-c", _NULL_SERVER, "{port}", str(path.stat().st_size)], "the null S3 server") as url:
        s3 = _client(url, "bench", "bench")
        put, get, note = _transfer(ctx, s3, "bench-s3", path, check=False)
        small_put, small_get = _small(s3, "bench-s3", "small")
    return Figures(put, get, small_put, small_get, note=note)


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(8 * MiB):
            h.update(block)
    return h.hexdigest()


def run(ctx: Context) -> Iterator[Row]:
    size = human(ctx.sizes.big_file)
    disk = ctx.attempt(ctx.disk)
    tusk: Outcome[Figures] = ctx.attempt(lambda: _tusk(ctx))
    moto: Outcome[Figures] = ctx.attempt(lambda: _moto(ctx))
    null: Outcome[Figures] = ctx.attempt(lambda: _ceiling(ctx))
    t, m, c = tusk.value, moto.value, null.value
    t_note, m_note = notes(tusk.error, t.note if t else ""), notes(moto.error, m.note if m else "")
    c_note = notes(null.error, c.note if c else "")
    ceiling = "boto3 ceiling (null server)"
    d = disk.value
    put, get = f"S3 PUT {size} (boto3 multipart, {CONCURRENCY} parts at once)", f"S3 GET {size} (same)"
    yield Row(NAME, put, "MiB/s", t.put_mib_s if t else None, "disk seq write", d.write_mib_s if d else None,
              at_least(0.5), notes(t_note, disk.error))
    yield Row(NAME, put, "MiB/s", t.put_mib_s if t else None, "moto server", m.put_mib_s if m else None,
              None, notes(t_note, m_note))
    yield Row(NAME, put, "MiB/s", t.put_mib_s if t else None, ceiling, c.put_mib_s if c else None,
              None, notes(t_note, c_note))
    yield Row(NAME, get, "MiB/s", t.get_mib_s if t else None, "disk seq read", d.read_mib_s if d else None,
              at_least(0.5), notes(t_note, disk.error))
    yield Row(NAME, get, "MiB/s", t.get_mib_s if t else None, "moto server", m.get_mib_s if m else None,
              None, notes(t_note, m_note))
    yield Row(NAME, get, "MiB/s", t.get_mib_s if t else None, ceiling, c.get_mib_s if c else None,
              None, notes(t_note, c_note))
    rss = t.rss if t else None
    yield Row(NAME, f"ingest peak RSS during the S3 PUT and GET of {size}", "MiB",
              rss.peak / MiB if rss else None, "—", None, at_most(200, on="value", text="≤ 200 MiB"),
              notes(t_note, f"max VmRSS of {rss.samples} samples; {rss.start_rss / MiB:.0f} MiB before"
                    if rss else "no ingest pid"))
    small = f"{SMALL_COUNT:,} small PUTs ({human(SMALL_SIZE)}, {CONCURRENCY} threads)"
    yield Row(NAME, small, "obj/s", t.small_put_s if t else None, "moto server",
              m.small_put_s if m else None, None, notes(t_note, m_note, "one commit per PUT"))
    yield Row(NAME, small, "obj/s", t.small_put_s if t else None, ceiling,
              c.small_put_s if c else None, None, notes(t_note, c_note, "one commit per PUT"))
    yield Row(NAME, small.replace("PUTs", "GETs"), "obj/s", t.small_get_s if t else None, "moto server",
              m.small_get_s if m else None, None, notes(t_note, m_note))
    yield Row(NAME, small.replace("PUTs", "GETs"), "obj/s", t.small_get_s if t else None, ceiling,
              c.small_get_s if c else None, None, notes(t_note, c_note))
    yield Row(NAME, small + f" with x-tusk-commit-group: {GROUP_MS}", "obj/s", t.grouped_put_s if t else None,
              "moto server", m.small_put_s if m else None, None, notes(t_note, m_note, "one commit in all"))


SCENARIO = Scenario(NAME, "the S3 gateway with boto3: 1 GiB multipart PUT/GET, RSS, small PUT/GET rates",
                    run, needs=("s3",))
