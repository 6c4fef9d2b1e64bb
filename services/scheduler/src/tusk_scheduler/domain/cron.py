"""Cron input schedules: `@every <duration>`, the `@hourly`-style shortcuts, or 5/6-field cron.

A 6-field spec has seconds first (`"*/30 * * * * *"`), as in robfig/cron that Pachyderm uses. Each tick
commits a file named by its RFC 3339 UTC time, e.g. `/2024-05-01T12:00:00Z`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter
from croniter.croniter import CroniterError

from tusk_common.errors import Invalid
from tusk_scheduler.domain.units import parse_duration

_SHORTCUTS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron spec; `next_after(t)` is the first tick strictly after `t`."""

    spec: str
    every: float | None  # seconds, for `@every`
    expression: str | None  # a 5- or 6-field expression otherwise

    def next_after(self, t: datetime) -> datetime:
        if t.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        if self.every is not None:
            return t + timedelta(seconds=self.every)
        assert self.expression is not None
        six = len(self.expression.split()) == 6
        nxt: datetime = croniter(self.expression, t, second_at_beginning=six).get_next(datetime)
        return nxt


def parse_cron(spec: str, *, field: str = "spec") -> CronSchedule:
    """Parse a cron input's `spec`, raising `Invalid(field=field)` with the reason."""
    if not isinstance(spec, str) or not spec.strip():
        raise Invalid(f"{field} must be a cron spec such as '@every 60s' or '*/5 * * * *'", field=field)
    text = " ".join(spec.split())
    if text.startswith("@every"):
        arg = text[len("@every") :].strip()
        try:
            seconds = parse_duration(arg)
        except ValueError as exc:
            raise Invalid(f"{field} {spec!r} is invalid: {exc}", field=field) from None
        if seconds < 1:
            raise Invalid(f"{field} {spec!r} is invalid: the interval must be at least 1s", field=field)
        return CronSchedule(spec=text, every=seconds, expression=None)
    expression = _SHORTCUTS.get(text, text)
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise Invalid(
            f"{field} {spec!r} is invalid: use '@every <duration>', a shortcut such as '@hourly', "
            "or 5 fields (minute hour day month weekday) or 6 (with seconds first)",
            field=field,
        )
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC), second_at_beginning=len(fields) == 6)
    except (CroniterError, ValueError, KeyError) as exc:
        raise Invalid(f"{field} {spec!r} is invalid: {exc}", field=field) from None
    return CronSchedule(spec=text, every=None, expression=expression)


def tick_path(t: datetime) -> str:
    """The file a tick at `t` commits: its RFC 3339 UTC time, to the second."""
    if t.tzinfo is None:
        raise ValueError("tick_path needs an aware datetime")
    return "/" + t.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
