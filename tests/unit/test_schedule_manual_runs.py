"""Manual runs, decided purely: the trigger's policy and name, a backfill's range and choices, a preview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kubetask.schedules import RUN_NAME_MAX, ConcurrencyPolicy, parse_schedule, run_task_name
from kubetask.schedules.manual import (
    COUNT_LIMIT,
    MAX_BACKFILL,
    BackfillConcurrency,
    backfill_instants,
    decide_trigger,
    default_backfill_concurrency,
    manual_task_name,
    plan_backfill,
    preview,
    trigger_instant,
)

NOW = datetime(2026, 3, 10, 12, 0, 30, 123456, tzinfo=UTC)


def _at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, second, tzinfo=UTC)


# -- names -----------------------------------------------------------------------------------


def test_a_triggered_run_stands_for_now_to_the_second_in_utc() -> None:
    berlin = NOW.astimezone(ZoneInfo("Europe/Berlin"))
    assert trigger_instant(berlin) == datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
    assert trigger_instant(berlin).tzinfo == UTC


def test_a_manual_name_is_the_nominal_name_and_manual() -> None:
    assert manual_task_name("report", NOW) == "report-20260310120030-manual"
    assert manual_task_name("report", NOW) != run_task_name("report", NOW)


@pytest.mark.parametrize("length", [30, 37, 38, 59, 253])
def test_a_manual_name_of_a_long_schedule_stays_within_the_run_name_limit(length: int) -> None:
    schedule = ("a" * (length - 1)) + "z"
    name = manual_task_name(schedule, NOW)
    assert len(name) <= RUN_NAME_MAX
    assert name.endswith("-20260310120030-manual")
    assert (name == f"{schedule}-20260310120030-manual") == (length <= 37)


def test_two_long_schedules_with_one_prefix_get_distinct_manual_names() -> None:
    a, b = "x" * 60 + "-one", "x" * 60 + "-two"
    assert manual_task_name(a, NOW) != manual_task_name(b, NOW)


# -- trigger ---------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["Allow", "Forbid", "Replace", "Queue"])
def test_a_trigger_with_no_active_run_starts_under_every_policy(policy: ConcurrencyPolicy) -> None:
    t = decide_trigger(schedule="s", policy=policy, active=[])
    assert (t.start, t.cancel, t.refused) == (True, (), None)


@pytest.mark.parametrize(
    ("policy", "start", "cancel"),
    [
        ("Allow", True, ()),
        ("Replace", True, ("s-1", "s-2")),
        ("Forbid", False, ()),
        ("Queue", False, ()),
    ],
)
def test_a_trigger_with_active_runs_follows_the_concurrency_policy(
    policy: ConcurrencyPolicy, start: bool, cancel: tuple[str, ...]
) -> None:
    t = decide_trigger(schedule="s", policy=policy, active=["s-2", "s-1"])
    assert (t.start, t.cancel) == (start, cancel)
    assert (t.refused is None) == start


@pytest.mark.parametrize("policy", ["Forbid", "Queue"])
def test_a_refused_trigger_names_the_active_run_and_the_policy(policy: ConcurrencyPolicy) -> None:
    t = decide_trigger(schedule="s", policy=policy, active=["s-20260310115900"])
    assert t.refused is not None
    assert "s-20260310115900" in t.refused and f"concurrencyPolicy is {policy}" in t.refused


# -- backfill range --------------------------------------------------------------------------

HOURLY = parse_schedule("0 * * * *", hash_key="ns/s")


def test_a_range_holds_its_instants_bounds_included() -> None:
    found, problems = backfill_instants(HOURLY, start=_at(8), end=_at(11), now=NOW)
    assert problems == []
    assert found == [_at(8), _at(9), _at(10), _at(11)]


def test_a_range_between_two_instants_holds_none() -> None:
    found, problems = backfill_instants(HOURLY, start=_at(8, 1), end=_at(8, 59), now=NOW)
    assert (found, problems) == ([], [])


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (_at(10), _at(9), "is before from"),
        (_at(10), _at(13), "is in the future"),
        (_at(1) - timedelta(days=30), _at(11), f"holds {30 * 24 + 11} instants"),
        (_at(1) - timedelta(days=300), _at(11), f"holds more than {COUNT_LIMIT} instants"),
    ],
    ids=["to-before-from", "to-in-the-future", "over-the-cap", "far-over-the-cap"],
)
def test_a_bad_range_is_refused_on_to_with_nothing_taken(start: datetime, end: datetime, says: str) -> None:
    found, problems = backfill_instants(HOURLY, start=start, end=end, now=NOW)
    assert found == []
    assert [p.field for p in problems] == ["to"]
    assert says in problems[0].message


def test_a_range_from_before_1970_is_refused_on_from() -> None:
    found, problems = backfill_instants(HOURLY, start=datetime(1, 1, 1, tzinfo=UTC), end=_at(11), now=NOW)
    assert found == []
    assert [p.field for p in problems] == ["from"]


def test_a_range_of_exactly_the_cap_is_taken() -> None:
    end = _at(11)
    found, problems = backfill_instants(HOURLY, start=end - timedelta(hours=MAX_BACKFILL - 1), end=end, now=NOW)
    assert (len(found), problems) == (MAX_BACKFILL, [])


def test_a_range_across_a_fall_back_hour_holds_a_fixed_time_once() -> None:
    cron = parse_schedule("30 1 * * *", time_zone="America/New_York", hash_key="ns/s")
    now = datetime(2026, 11, 2, tzinfo=UTC)
    found, _ = backfill_instants(cron, start=datetime(2026, 11, 1, tzinfo=UTC), end=now, now=now)
    assert found == [datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]  # 01:30 EDT, not again at 01:30 EST


# -- backfill choices ------------------------------------------------------------------------

RANGE = [_at(8), _at(9), _at(10), _at(11)]


@pytest.mark.parametrize(
    ("concurrency", "active", "create", "not_started"),
    [
        ("Allow", False, [_at(9), _at(11)], []),
        ("Allow", True, [_at(9), _at(11)], []),
        ("Forbid", False, [_at(9)], [_at(11)]),
        ("Forbid", True, [], [_at(9), _at(11)]),
    ],
    ids=["allow-idle", "allow-active", "forbid-idle-oldest-only", "forbid-active-none"],
)
def test_a_backfill_creates_the_missing_instants_per_its_concurrency(
    concurrency: BackfillConcurrency, active: bool, create: list[datetime], not_started: list[datetime]
) -> None:
    plan = plan_backfill(RANGE, existing={_at(8)}, history={_at(10)}, active=active, concurrency=concurrency)
    assert list(plan.create) == create
    assert list(plan.not_started) == not_started
    assert plan.skipped_existing == (_at(8),)
    assert plan.skipped_history == (_at(10),)


def test_an_instant_both_existing_and_in_history_is_skipped_as_existing_only() -> None:
    plan = plan_backfill(RANGE, existing={_at(9)}, history={_at(9)}, active=False, concurrency="Allow")
    assert plan.skipped_existing == (_at(9),) and plan.skipped_history == ()


def test_a_backfill_repeated_after_its_runs_exist_creates_nothing() -> None:
    first = plan_backfill(RANGE, existing=set(), history=set(), active=False, concurrency="Allow")
    again = plan_backfill(RANGE, existing=set(first.create), history=set(), active=True, concurrency="Allow")
    assert again.create == () and again.skipped_existing == tuple(RANGE)


def test_a_forbid_backfill_called_again_continues_the_range() -> None:
    done: set[datetime] = set()
    for expected in RANGE:
        plan = plan_backfill(RANGE, existing=done, history=set(), active=False, concurrency="Forbid")
        assert plan.create == (expected,)
        done.add(expected)
    assert plan_backfill(RANGE, existing=done, history=set(), active=False, concurrency="Forbid").create == ()


@pytest.mark.parametrize(
    ("policy", "default"),
    [("Allow", "Allow"), ("Forbid", "Forbid"), ("Replace", "Forbid"), ("Queue", "Forbid")],
)
def test_a_backfill_follows_the_schedule_unless_told(policy: ConcurrencyPolicy, default: str) -> None:
    assert default_backfill_concurrency(policy) == default


# -- preview ---------------------------------------------------------------------------------


def test_a_preview_lists_the_next_instants_in_utc_and_in_the_zone() -> None:
    cron = parse_schedule("0 9 * * *", time_zone="Europe/Berlin", hash_key="ns/s")
    now = datetime(2026, 3, 27, 12, tzinfo=UTC)  # Berlin springs forward on 2026-03-29
    items = preview(cron, key="ns/s", now=now, count=3, jitter_seconds=0)
    assert [i.time for i in items] == [
        datetime(2026, 3, 28, 8, tzinfo=UTC),
        datetime(2026, 3, 29, 7, tzinfo=UTC),
        datetime(2026, 3, 30, 7, tzinfo=UTC),
    ]
    assert {(i.local_time.hour, i.local_time.utcoffset() is not None) for i in items} == {(9, True)}
    assert [i.start_time for i in items] == [i.time for i in items]


def test_a_preview_with_jitter_starts_each_run_within_its_bound_and_before_the_next() -> None:
    cron = parse_schedule("*/10 * * * * *", hash_key="ns/s")  # every 10 s, jitter up to 60 s
    items = preview(cron, key="ns/s", now=NOW, count=20, jitter_seconds=60)
    assert len(items) == 20
    for item, following in zip(items, items[1:], strict=False):
        assert item.time <= item.start_time < following.time
    assert any(i.start_time > i.time for i in items)


def test_a_preview_of_a_schedule_that_rarely_fires_still_counts_right() -> None:
    cron = parse_schedule("0 0 29 2 *", hash_key="ns/s")
    items = preview(cron, key="ns/s", now=NOW, count=2, jitter_seconds=0)
    assert [i.time.year for i in items] == [2028, 2032]
