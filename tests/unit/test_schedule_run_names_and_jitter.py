"""A run Task's name comes from its schedule and instant; jitter is deterministic and bounded."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from kubetask.jobs import job_name
from kubetask.schedules import RUN_NAME_MAX, jitter_delay, next_instants, parse_schedule, run_task_name

T = datetime(2026, 3, 8, 7, 0, 5, tzinfo=UTC)
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# TaskSchedule names as the apiserver admits them: DNS subdomains (no empty label, none starting or
# ending with "-")
names = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,80}[a-z0-9])?", fullmatch=True).filter(
    lambda n: not any(bad in n for bad in ("..", ".-", "-."))
)


def test_a_run_is_named_from_its_schedule_and_utc_instant_to_the_second() -> None:
    assert run_task_name("nightly", T) == "nightly-20260308070005"
    assert run_task_name("nightly", T.astimezone(ZoneInfo("Asia/Kolkata"))) == "nightly-20260308070005"


def test_a_long_schedule_name_is_cut_and_keeps_a_hash_of_itself() -> None:
    long_a, long_b = "a" * 60 + "-x", "a" * 60 + "-y"
    a, b = run_task_name(long_a, T), run_task_name(long_b, T)
    assert len(a) == len(b) == RUN_NAME_MAX
    assert a != b and a.endswith("-20260308070005")
    assert run_task_name(long_a, T) == a  # stable


@given(name=names, seconds=st.integers(min_value=0, max_value=10**9))
def test_run_names_are_valid_short_collision_free_and_sort_by_time(name: str, seconds: int) -> None:
    instant = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    later = instant + timedelta(seconds=1)
    a, b = run_task_name(name, instant), run_task_name(name, later)
    assert _DNS_SUBDOMAIN.match(a) and len(a) <= RUN_NAME_MAX
    assert a < b
    assert job_name(a, 100) == f"{a}-100"  # its Jobs keep the plain <task>-<attempt> form


@given(
    key=st.text(min_size=1, max_size=40),
    seconds=st.integers(min_value=0, max_value=10**9),
    gap=st.integers(min_value=1, max_value=10**6),
    jitter=st.integers(min_value=0, max_value=10**5),
)
def test_jitter_is_whole_seconds_within_its_bound_and_short_of_the_next_instant(
    key: str, seconds: int, gap: int, jitter: int
) -> None:
    instant = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    following = instant + timedelta(seconds=gap)
    d = jitter_delay(key=key, instant=instant, next_instant=following, jitter_seconds=jitter)
    assert timedelta(0) <= d <= timedelta(seconds=jitter)
    assert d.microseconds == 0
    assert instant + d < following
    assert d == jitter_delay(key=key, instant=instant, next_instant=following, jitter_seconds=jitter)


def test_jitter_spreads_schedules_that_share_an_instant() -> None:
    hour = datetime(2026, 1, 1, 12, tzinfo=UTC)
    delays = {
        jitter_delay(key=f"ns/s{i}", instant=hour, next_instant=hour + timedelta(hours=1), jitter_seconds=600)
        for i in range(50)
    }
    assert len(delays) > 30


def test_jitter_of_a_6_field_schedule_stays_inside_its_10_second_period() -> None:
    cron = parse_schedule("*/10 * * * * *", hash_key="ns/s")
    instants = next_instants(cron, datetime(2026, 1, 1, tzinfo=UTC), 200)
    delays = [
        jitter_delay(key="ns/s", instant=a, next_instant=b, jitter_seconds=3600)
        for a, b in zip(instants, instants[1:], strict=False)
    ]
    assert max(delays) == timedelta(seconds=9) and min(delays) == timedelta(0)


def test_no_jitter_without_jitter_seconds() -> None:
    assert jitter_delay(key="ns/s", instant=T, next_instant=T + timedelta(hours=1), jitter_seconds=0) == timedelta(0)
