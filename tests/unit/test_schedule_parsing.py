"""Schedules are parsed like cron (5 fields, macros, 6 with seconds first, `H`) and bad ones are named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kubetask.schedules import ScheduleError, next_instants, parse_schedule

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param("30 9 * * 1-5", ["2026-01-01T09:30", "2026-01-02T09:30", "2026-01-05T09:30"], id="five-fields"),
        pytest.param("@hourly", ["2026-01-01T01:00", "2026-01-01T02:00", "2026-01-01T03:00"], id="hourly"),
        pytest.param("@daily", ["2026-01-02T00:00", "2026-01-03T00:00", "2026-01-04T00:00"], id="daily"),
        pytest.param("@midnight", ["2026-01-02T00:00", "2026-01-03T00:00", "2026-01-04T00:00"], id="midnight"),
        pytest.param("@weekly", ["2026-01-04T00:00", "2026-01-11T00:00", "2026-01-18T00:00"], id="weekly-sundays"),
        pytest.param("@monthly", ["2026-02-01T00:00", "2026-03-01T00:00", "2026-04-01T00:00"], id="monthly"),
        pytest.param("@yearly", ["2027-01-01T00:00", "2028-01-01T00:00", "2029-01-01T00:00"], id="yearly"),
        pytest.param("@ANNUALLY", ["2027-01-01T00:00", "2028-01-01T00:00", "2029-01-01T00:00"], id="macro-any-case"),
        pytest.param(
            "*/20 * * * * *",
            ["2026-01-01T00:00:20", "2026-01-01T00:00:40", "2026-01-01T00:01:00"],
            id="6-fields-every-20s",
        ),
        pytest.param(
            "5 30 9 * * *",
            ["2026-01-01T09:30:05", "2026-01-02T09:30:05", "2026-01-03T09:30:05"],
            id="6-fields-seconds-first",
        ),
        pytest.param("0 0 29 2 *", ["2028-02-29T00:00", "2032-02-29T00:00", "2036-02-29T00:00"], id="leap-day"),
        pytest.param("  0   12  * * *  ", ["2026-01-01T12:00", "2026-01-02T12:00", "2026-01-03T12:00"], id="spaces"),
    ],
)
def test_schedule_forms_name_these_instants(schedule: str, expected: list[str]) -> None:
    cron = parse_schedule(schedule, hash_key="ns/s")
    assert next_instants(cron, T0, 3) == [_utc(e) for e in expected]


def test_hashed_fields_stay_put_when_the_schedule_is_reapplied() -> None:
    first = next_instants(parse_schedule("H H * * *", hash_key="team-a/nightly"), T0, 3)
    again = next_instants(parse_schedule("H H * * *", hash_key="team-a/nightly"), T0, 3)
    assert first == again
    assert len({(t.hour, t.minute) for t in first}) == 1  # one hashed time of day, every day


def test_hashed_fields_spread_schedules_of_different_names() -> None:
    times = {next_instants(parse_schedule("H * * * *", hash_key=f"ns/s{i}"), T0, 1)[0].minute for i in range(20)}
    assert len(times) > 5  # not all at :00, as twenty CronJobs written `0 * * * *` would be


def test_hashed_range_stays_inside_its_range() -> None:
    for i in range(20):
        (t,) = next_instants(parse_schedule("H H(2-4) * * *", hash_key=f"ns/s{i}"), T0, 1)
        assert 2 <= t.hour <= 4


@pytest.mark.parametrize(
    ("schedule", "zone", "field", "says"),
    [
        pytest.param("0 0 31 2 *", None, "spec.schedule", "never fires", id="february-31"),
        pytest.param("0 0 30 2 *", None, "spec.schedule", "never fires", id="february-30"),
        pytest.param("0 0 31 4,6,9,11 *", None, "spec.schedule", "never fires", id="31st-of-30-day-months"),
        pytest.param("61 * * * *", None, "spec.schedule", "not a valid cron expression", id="minute-61"),
        pytest.param("* * * *", None, "spec.schedule", "has 4 fields", id="four-fields"),
        pytest.param("0 0 0 1 1 * 2030", None, "spec.schedule", "has 7 fields", id="seven-fields-year"),
        pytest.param("@reboot", None, "spec.schedule", "unknown macro", id="reboot"),
        pytest.param("every day", None, "spec.schedule", "has 2 fields", id="prose"),
        pytest.param("0 * * * xyz", None, "spec.schedule", "not a valid cron expression", id="bad-day-name"),
        pytest.param("0 * * * *", "Mars/Olympus", "spec.timeZone", "unknown time zone 'Mars/Olympus'", id="zone"),
        pytest.param("0 * * * *", "../etc/passwd", "spec.timeZone", "unknown time zone", id="zone-path"),
        pytest.param("0 * * * *", "utc", "spec.timeZone", "unknown time zone", id="zone-case"),
    ],
)
def test_bad_schedules_fail_naming_the_field(schedule: str, zone: str | None, field: str, says: str) -> None:
    with pytest.raises(ScheduleError) as e:
        parse_schedule(schedule, time_zone=zone, hash_key="ns/s")
    assert e.value.field == field
    assert says in e.value.message
    assert str(e.value).startswith(f"{field}: ")


def test_time_zone_defaults_to_utc() -> None:
    assert parse_schedule("0 * * * *", hash_key="ns/s").zone.key == "UTC"
    assert parse_schedule("0 * * * *", time_zone="", hash_key="ns/s").zone.key == "UTC"


@pytest.mark.parametrize(
    ("schedule", "interval"),
    [
        ("*/15 * * * *", True),
        ("0 * * * *", True),
        ("@hourly", True),
        ("0 */2 * * *", True),
        ("0 1-5/2 * * *", True),
        ("0 * * * * *", True),  # 6 fields: the hour is the third
        ("30 2 * * *", False),
        ("*/15 2 * * *", False),  # fixed hour, wildcard minute: the hour decides
        ("0 1,2 * * *", False),
        ("0 0-23 * * *", False),  # a range written out is fixed hours, as Vixie cron reads it
        ("@daily", False),
        ("0 0 2 * * *", False),
    ],
)
def test_interval_schedules_are_those_with_a_wildcard_or_step_hour(schedule: str, interval: bool) -> None:
    assert parse_schedule(schedule, hash_key="ns/s").interval is interval
