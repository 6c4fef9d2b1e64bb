"""Cron schedules, tick file names, Go durations and Kubernetes quantities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tusk_common.errors import Invalid
from tusk_scheduler.domain.cron import parse_cron, tick_path
from tusk_scheduler.domain.units import format_duration, parse_duration, parse_quantity

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("@every 60s", T0 + timedelta(seconds=60)),
        ("@every 1h30m", T0 + timedelta(minutes=90)),
        ("*/5 * * * *", T0 + timedelta(minutes=5)),
        ("0 0 * * *", datetime(2024, 5, 2, tzinfo=UTC)),
        ("*/30 * * * * *", T0 + timedelta(seconds=30)),  # 6 fields: seconds first
        ("@hourly", T0 + timedelta(hours=1)),
        ("@daily", datetime(2024, 5, 2, tzinfo=UTC)),
    ],
)
def test_next_tick(spec, expected):
    assert parse_cron(spec).next_after(T0) == expected


@pytest.mark.parametrize(
    "spec", ["", "@every", "@every 0s", "@every 500ms", "* * * *", "61 * * * *", "@sometimes"]
)
def test_bad_cron_specs_are_invalid(spec):
    with pytest.raises(Invalid) as err:
        parse_cron(spec, field="input.cron.spec")
    assert err.value.field == "input.cron.spec"


def test_tick_files_are_named_by_rfc3339_utc_time():
    t = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert tick_path(t) == "/2024-05-01T12:00:00Z"
    with pytest.raises(ValueError):
        tick_path(datetime(2024, 5, 1))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("600s", 600),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("300ms", 0.3),
        ("2m30.5s", 150.5),
        ("1us", 1e-6),
        ("0", 0),
    ],
)
def test_go_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)
    assert parse_duration(format_duration(parse_duration(text))) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "600", "10 minutes", "1d", "-5s", "s", "1h-30m"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512Mi", 512 * 2**20),
        ("2Gi", 2 * 2**30),
        ("1G", 10**9),
        ("100M", 10**8),
        ("1024", 1024),
        ("1.5Ki", 1536),
    ],
)
def test_kubernetes_quantities(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "lots", "5 Gi", "-1Gi", "1GB"])
def test_bad_quantities(text):
    with pytest.raises(ValueError):
        parse_quantity(text)
