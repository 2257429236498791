"""Daylight saving as Vixie cron does it, pinned to exact UTC instants of the 2026 changes.

America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z).
A fixed-time schedule runs a repeated wall time once (the first pass) and a skipped one at the end
of the gap; an interval schedule (hour `*` or a step) runs both passes and nothing in a gap.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from kubetask.schedules import instants_after, next_instants, parse_schedule

NY, BERLIN = "America/New_York", "Europe/Berlin"


def _z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CASES = [
    # croniter 7 alone fires this at 05:30Z and again at 06:30Z (01:30 EST) on Nov 1: corrected here
    pytest.param(
        NY, "30 1 * * *", "2026-10-31T12:00", ["2026-11-01T05:30", "2026-11-02T06:30"], id="ny-fall-fixed-once"
    ),
    pytest.param(
        NY,
        "*/15 1 * * *",
        "2026-11-01T05:40",
        ["2026-11-01T05:45", "2026-11-02T06:00"],
        id="ny-fall-fixed-no-second-pass",
    ),
    pytest.param(
        NY,
        "*/20 30 1 * * *",
        "2026-11-01T05:00",
        ["2026-11-01T05:30:00", "2026-11-01T05:30:20", "2026-11-01T05:30:40", "2026-11-02T06:30:00"],
        id="ny-fall-fixed-6-fields",
    ),
    pytest.param(
        NY, "30 2 * * *", "2026-03-07T12:00", ["2026-03-08T07:00", "2026-03-09T06:30"], id="ny-spring-fixed-gap"
    ),
    pytest.param(
        NY, "*/15 2 * * *", "2026-03-07T12:00", ["2026-03-08T07:00", "2026-03-09T06:00"], id="ny-spring-fixed-collapse"
    ),
    pytest.param(
        NY,
        "0 2,3 * * *",
        "2026-03-07T12:00",
        ["2026-03-08T07:00", "2026-03-09T06:00", "2026-03-09T07:00"],
        id="ny-spring-gap-run-meets-03:00-run-once",
    ),
    pytest.param(
        NY, "*/15 2 * * *", "2026-03-08T07:00", ["2026-03-09T06:00"], id="ny-spring-collapsed-run-not-repeated"
    ),
    pytest.param(
        NY,
        "*/30 * * * *",
        "2026-11-01T04:00",
        [
            "2026-11-01T04:30",
            "2026-11-01T05:00",
            "2026-11-01T05:30",
            "2026-11-01T06:00",
            "2026-11-01T06:30",
            "2026-11-01T07:00",
        ],
        id="ny-fall-interval-both-passes",
    ),
    pytest.param(
        NY,
        "*/30 * * * *",
        "2026-11-01T05:45",
        ["2026-11-01T06:00", "2026-11-01T06:30"],
        id="ny-fall-interval-from-inside",
    ),
    pytest.param(
        NY,
        "0 * * * *",
        "2026-11-01T04:30",
        ["2026-11-01T05:00", "2026-11-01T06:00", "2026-11-01T07:00"],
        id="ny-fall-hourly-01:00-twice",
    ),
    pytest.param(
        NY,
        "*/30 * * * *",
        "2026-03-08T06:00",
        ["2026-03-08T06:30", "2026-03-08T07:00", "2026-03-08T07:30"],
        id="ny-spring-interval-gap-empty",
    ),
    pytest.param(
        NY,
        "0 * * * *",
        "2026-03-08T05:30",
        ["2026-03-08T06:00", "2026-03-08T07:00", "2026-03-08T08:00"],
        id="ny-spring-hourly",
    ),
    # croniter 7 alone fires this at 00:30Z and again at 01:30Z (02:30 CET) on Oct 25: corrected here
    pytest.param(
        BERLIN, "30 2 * * *", "2026-10-24T12:00", ["2026-10-25T00:30", "2026-10-26T01:30"], id="berlin-fall-fixed-once"
    ),
    pytest.param(
        BERLIN, "30 2 * * *", "2026-03-28T12:00", ["2026-03-29T01:00", "2026-03-30T00:30"], id="berlin-spring-fixed-gap"
    ),
    pytest.param(
        BERLIN,
        "0,20,40 2 * * *",
        "2026-03-28T12:00",
        ["2026-03-29T01:00", "2026-03-30T00:00"],
        id="berlin-spring-fixed-collapse",
    ),
    pytest.param(
        BERLIN,
        "*/30 * * * *",
        "2026-10-24T23:45",
        ["2026-10-25T00:00", "2026-10-25T00:30", "2026-10-25T01:00", "2026-10-25T01:30", "2026-10-25T02:00"],
        id="berlin-fall-interval-both-passes",
    ),
    pytest.param(
        BERLIN,
        "*/30 * * * *",
        "2026-03-29T00:15",
        ["2026-03-29T00:30", "2026-03-29T01:00", "2026-03-29T01:30"],
        id="berlin-spring-interval-gap-empty",
    ),
    pytest.param(
        BERLIN,
        "0 */20 * * * *",
        "2026-10-25T00:50",
        ["2026-10-25T01:00", "2026-10-25T01:20", "2026-10-25T01:40", "2026-10-25T02:00"],
        id="berlin-fall-interval-6-fields",
    ),
]


@pytest.mark.parametrize(("zone", "schedule", "after", "expected"), CASES)
def test_instants_across_daylight_saving_changes(zone: str, schedule: str, after: str, expected: list[str]) -> None:
    cron = parse_schedule(schedule, time_zone=zone, hash_key="ns/s")
    assert next_instants(cron, _z(after), len(expected)) == [_z(e) for e in expected]


def test_a_fall_back_day_has_25_hourly_runs_and_a_spring_day_23() -> None:
    cron = parse_schedule("@hourly", time_zone=NY, hash_key="ns/s")
    for day, count in (("2026-11-01", 25), ("2026-03-08", 23)):
        start = datetime.fromisoformat(f"{day}T00:00").replace(tzinfo=cron.zone)
        end = datetime.fromisoformat(f"{day}T23:59").replace(tzinfo=cron.zone)
        runs = [t for t in next_instants(cron, start, 30) if t <= end]
        assert len(runs) == count - 1, day  # the 00:00 run is at `start`, not after it


def test_a_daily_schedule_runs_once_every_day_change_days_included() -> None:
    for zone in (NY, BERLIN):
        for schedule in ("30 1 * * *", "30 2 * * *", "0 3 * * *"):
            cron = parse_schedule(schedule, time_zone=zone, hash_key="ns/s")
            runs = list(zip(range(400), instants_after(cron, _z("2026-01-01T00:00")), strict=False))
            days = [t.astimezone(cron.zone).date() for _, t in runs]
            assert [(b - a).days for a, b in itertools.pairwise(days)] == [1] * 399, (zone, schedule)
