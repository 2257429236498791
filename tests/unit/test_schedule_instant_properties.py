"""Properties of a schedule's instants near DST changes, against a brute-force oracle over minutes.

The oracle walks every minute of a window in UTC and applies the rule literally: an interval
schedule runs each minute whose wall time matches; a fixed-time one runs a matching wall time at
its first occurrence, and a gap in which some wall time matches at the gap's end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetask.schedules import next_instants, parse_schedule

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
# the 2026 changes of those zones (Lord Howe moves its clocks by 30 minutes)
CHANGES = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
]
MINUTE = timedelta(minutes=1)
WINDOW = timedelta(hours=3)
BEFORE = timedelta(hours=2)  # a fall-back repeats at most the hour (or 30 minutes) before it

minutes = st.sampled_from(["*", "*/15", "0", "30", "0,30", "45", "*/7", "10-20"])
hour_fields = st.sampled_from(["*", "*/2", "1", "2", "1,2", "0-3", "3", "1-3/2", "2,14"])
schedules = st.builds(lambda m, h: f"{m} {h} * * *", minutes, hour_fields)
starts = st.builds(
    lambda change, offset: change + timedelta(minutes=offset),
    st.sampled_from(CHANGES),
    st.integers(min_value=-180, max_value=60),
)


def _wall(t: datetime, zone: ZoneInfo) -> datetime:
    return t.astimezone(zone).replace(tzinfo=None)


def _matcher(schedule: str) -> Callable[[datetime], bool]:
    """Whether a wall time matches `<minute> <hour> * * *` (croniter expands the two fields)."""
    expanded = croniter(schedule).expanded
    minutes, hours = (set(range(n)) if f == ["*"] else set(f) for f, n in zip(expanded[:2], (60, 24), strict=True))
    return lambda wall: wall.minute in minutes and wall.hour in hours


def _oracle(schedule: str, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    hour = schedule.split()[1]
    interval, match = hour.startswith("*") or "/" in hour, _matcher(schedule)
    out, seen = [], set()
    t = start.replace(second=0, microsecond=0) - BEFORE  # walls seen before the window count as seen
    previous = _wall(t - MINUTE, zone)
    while t <= end:
        wall = _wall(t, zone)
        gap = [previous + i * MINUTE for i in range(1, (wall - previous) // MINUTE)]
        runs = (interval or wall not in seen) and match(wall)
        gap_run = not interval and any(match(w) for w in gap)
        if (runs or gap_run) and t > start:
            out.append(t)
        seen.add(wall)
        previous, t = wall, t + MINUTE
    return out


@settings(max_examples=100, deadline=None)
@given(schedule=schedules, zone=st.sampled_from(ZONES), start=starts)
def test_instants_are_exactly_the_oracles_increasing_and_each_once(schedule: str, zone: str, start: datetime) -> None:
    cron = parse_schedule(schedule, time_zone=zone, hash_key="ns/s")
    end = start + WINDOW
    got = [t for t in next_instants(cron, start, 300) if t <= end]
    assert got == _oracle(schedule, cron.zone, start, end)
    assert all(a < b for a, b in zip(got, got[1:], strict=False))


@settings(max_examples=60, deadline=None)
@given(schedule=schedules, zone=st.sampled_from(ZONES), start=starts, cut=st.integers(min_value=1, max_value=20))
def test_resuming_from_any_instant_continues_the_same_sequence(
    schedule: str, zone: str, start: datetime, cut: int
) -> None:
    # the controller restarts from lastScheduleTime: the sequence after it must not change
    cron = parse_schedule(schedule, time_zone=zone, hash_key="ns/s")
    whole = next_instants(cron, start, 40)
    assert next_instants(cron, whole[cut - 1], 40 - cut) == whole[cut:]
