"""`tusk status`: what `stack.json` says runs, checked against the live processes and their health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tusk.stack.components import http_ok, tcp_ok
from tusk.stack.config import StackConfig
from tusk.stack.state import pid_alive, read_state, running_pid

EXIT_OK, EXIT_UNHEALTHY, EXIT_NOT_RUNNING = 0, 1, 3


def _probe(comp: dict[str, Any]) -> dict[str, Any]:
    pid = comp.get("pid")
    managed = comp.get("managed", True)
    alive = pid_alive(pid) if managed else None
    row: dict[str, Any] = {
        "name": comp.get("name"), "kind": comp.get("kind"), "managed": managed, "pid": pid, "alive": alive,
        "url": comp.get("url"), "restarts": comp.get("restarts", 0), "log": comp.get("log"),
    }
    if comp.get("kind") == "service":
        row["ops_url"] = comp.get("ops_url")
        row["metrics_url"] = comp.get("metrics_url")
        ops = str(comp.get("ops_url") or "").removeprefix("http://")
        host, _, port = ops.rpartition(":")
        ready = bool(alive) and port.isdigit() and http_ok(host, int(port))
        row["health"] = "ready" if ready else ("unready" if alive else "down")
        row["healthy"] = ready
    else:
        reachable = (alive is not False) and tcp_ok(str(comp.get("host")), int(comp.get("port") or 0))
        row["health"] = "ok" if reachable else ("unreachable" if alive is not False else "down")
        row["healthy"] = reachable
    return row


def collect(data_dir: Path) -> dict[str, Any]:
    """The status report of the stack on `data_dir` (the `--json` output)."""
    config = StackConfig(data_dir.expanduser().resolve())
    pid = running_pid(config.lock_file)
    state = read_state(config.state_file) or {}
    report: dict[str, Any] = {
        "data_dir": str(config.data_dir),
        "running": pid is not None,
        "state": state.get("state") if pid is not None else "stopped",
        "supervisor": {"pid": pid, "alive": pid is not None},
        "url": state.get("url"),
        "store": state.get("store"),
        "components": [],
        "healthy": False,
    }
    if pid is None or state.get("supervisor", {}).get("pid") != pid:
        return report
    report["components"] = [_probe(c) for c in state.get("components", [])]
    store = state.get("store") or {}
    store_ok = store.get("backend") != "fs" or Path(store.get("path", "")).is_dir()
    report["healthy"] = store_ok and bool(report["components"]) and all(
        c["healthy"] for c in report["components"]
    )
    return report


def exit_code(report: dict[str, Any]) -> int:
    if not report["running"]:
        return EXIT_NOT_RUNNING
    return EXIT_OK if report["healthy"] else EXIT_UNHEALTHY


def render(report: dict[str, Any]) -> str:
    """The human table."""
    if not report["running"]:
        return f"Tusk is not running on {report['data_dir']} (start it with `tusk up`)"
    verdict = "healthy" if report["healthy"] else "NOT healthy"
    lines = [f"Tusk is running on {report['data_dir']} (supervisor pid {report['supervisor']['pid']}, "
             f"{report['state']}): {verdict}"]
    if report.get("url"):
        lines.append(f"public URL: {report['url']}")
    store = report.get("store") or {}
    if store:
        lines.append(f"object store: {store.get('backend')} {store.get('path') or store.get('endpoint') or ''}")
    rows = [("COMPONENT", "PID", "ALIVE", "HEALTH", "RESTARTS", "ADDRESS", "OPS")]
    for c in report["components"]:
        alive = {True: "yes", False: "no", None: "external"}[c["alive"]]
        rows.append((
            str(c["name"]), str(c["pid"] or "-"), alive, str(c["health"]), str(c.get("restarts") or 0),
            str(c.get("url") or "-"), str(c.get("ops_url") or "-"),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
