"""Every NATS subject, stream and queue-group name in one place."""

from __future__ import annotations

EVENTS_STREAM = "TUSK_EVENTS"
EVENTS_PREFIX = "tusk.events"
DATUMS_STREAM = "TUSK_DATUMS"
DATUMS_PREFIX = "tusk.datums"
RPC_PREFIX = "tusk.rpc"


def event_subject(kind: str) -> str:
    """`commit.finished` -> `tusk.events.commit.finished`."""
    return f"{EVENTS_PREFIX}.{kind}"


def rpc_subject(service: str, method: str) -> str:
    """`("versioning", "commit.start")` -> `tusk.rpc.versioning.commit.start`."""
    return f"{RPC_PREFIX}.{service}.{method}"


def rpc_queue_group(service: str) -> str:
    """Replicas of one service share RPC requests through this queue group."""
    return f"tusk-{service}"


def datum_subject(pipeline: str) -> str:
    return f"{DATUMS_PREFIX}.{pipeline}"
