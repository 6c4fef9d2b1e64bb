"""Events on `TUSK_EVENTS` (`tusk.events.<KIND>`), each wrapped in a CloudEvents 1.0 envelope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal


from tusk_common.subjects import event_subject
from tusk_common.wire.base import Wire


class Event(Wire):
    """Base of every event; `KIND` is the subject suffix and the CloudEvents type stem."""

    KIND: ClassVar[str] = ""
    schema_version: int = 1

    @classmethod
    def subject(cls) -> str:
        return event_subject(cls.KIND)

    @classmethod
    def ce_type(cls) -> str:
        return f"io.tusk.{cls.KIND}.v{cls.model_fields['schema_version'].default}"

    def ce_subject(self) -> str:
        return ""


class RepoCreated(Event):
    """A repo was created."""

    KIND: ClassVar[str] = "repo.created"
    repo: str
    description: str = ""

    def ce_subject(self) -> str:
        return self.repo


class RepoDeleted(Event):
    """A repo was deleted with its branches and commits."""

    KIND: ClassVar[str] = "repo.deleted"
    repo: str

    def ce_subject(self) -> str:
        return self.repo


class CommitStarted(Event):
    """A commit was opened on a branch (by a user, or by a pipeline for its output)."""

    KIND: ClassVar[str] = "commit.started"
    repo: str
    branch: str | None
    commit: str
    commit_set: str
    parent: str | None
    origin: Literal["user", "auto"] = "user"

    def ce_subject(self) -> str:
        return f"{self.repo}@{self.commit}"


class CommitFinished(Event):
    """A commit was finished: it is immutable from now on; pipelines reading its branch react to this."""

    KIND: ClassVar[str] = "commit.finished"
    repo: str
    branch: str | None
    commit: str
    commit_set: str
    parent: str | None
    origin: Literal["user", "auto"] = "user"
    error: str | None = None
    size_bytes: int = 0
    file_count: int = 0

    def ce_subject(self) -> str:
        return f"{self.repo}@{self.commit}"


class BranchUpdated(Event):
    """A branch head moved (new commit, `create branch --head`, squash or delete)."""

    KIND: ClassVar[str] = "branch.updated"
    repo: str
    branch: str
    head: str | None
    previous: str | None

    def ce_subject(self) -> str:
        return f"{self.repo}@{self.branch}"


class CloudEvent(Wire):
    """The CloudEvents 1.0 JSON envelope every event travels in."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]


EVENT_TYPES: tuple[type[Event], ...] = (
    RepoCreated, RepoDeleted, CommitStarted, CommitFinished, BranchUpdated,
)
_BY_TYPE = {cls.ce_type(): cls for cls in EVENT_TYPES}


def new_event_id() -> str:
    return uuid.uuid4().hex


def envelope(event: Event, *, source: str, event_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=event_id or new_event_id(),
        source=source,
        type=event.ce_type(),
        time=datetime.now(UTC),
        subject=event.ce_subject() or None,
        data=event.model_dump(mode="json"),
    )


def parse_event(ce: CloudEvent) -> Event:
    """The typed event inside an envelope (raises KeyError for a type this version does not know)."""
    return _BY_TYPE[ce.type].model_validate(ce.data)


def register(cls: type[Event]) -> type[Event]:
    """Add an event type defined by a later module (pipelines, lineage) to the parser."""
    _BY_TYPE[cls.ce_type()] = cls
    return cls


