"""Container HEALTHCHECK: exit 0 when the service's ops port answers `GET /healthz` with 200.

Reads the port from `TUSK_OPS_ADDR` (default `0.0.0.0:9100`, as the image sets it) and always asks the
loopback address, so it works whatever interface the ops server binds. Standard library only: the image
has no curl or wget.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_OPS_ADDR = "0.0.0.0:9100"
TIMEOUT_SECONDS = 2.0


def healthz_url(ops_addr: str) -> str:
    host, _, port = ops_addr.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        raise ValueError(f"TUSK_OPS_ADDR={ops_addr!r} has no fixed port to probe")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def main() -> int:
    try:
        url = healthz_url(os.environ.get("TUSK_OPS_ADDR", DEFAULT_OPS_ADDR))
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as resp:
            return 0 if resp.status == 200 else 1
    except (ValueError, OSError, urllib.error.URLError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
