"""One controller pass of a schedule: missed-run and concurrency policies, deadlines, suspend, long pasts.

The schedule is hourly in UTC unless a case says otherwise; "now" is 30 s past 12:00, so the 12:00
run is due. Instants are written as hours ("10" is 10:00 that day).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubetask.schedules import (
    LATE_RUNS_LIMIT,
    SCAN_LIMIT,
    Observed,
    Plan,
    Policies,
    jitter_delay,
    parse_schedule,
    plan_runs,
)

DAY = datetime(2026, 1, 2, tzinfo=UTC)
NOW = DAY + timedelta(hours=12, seconds=30)
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
HOURLY = parse_schedule("0 * * * *", hash_key="ns/s")


def h(hour: float) -> datetime:
    return DAY + timedelta(hours=hour)


def hours(*values: float) -> tuple[datetime, ...]:
    return tuple(h(v) for v in values)


def observed(**kw: Any) -> Observed:
    base: dict[str, Any] = {"key": "ns/s", "now": NOW, "since": LONG_AGO, "up_since": LONG_AGO, "last_scheduled": h(11)}
    return Observed(**{**base, **kw})


def plan(policies: Policies | None = None, **kw: Any) -> Plan:
    return plan_runs(HOURLY, policies or Policies(), observed(**kw))


RESTARTED = h(11.5)  # the operator came up at 11:30: 12:00 is on time, 10:00 and 11:00 fell due while it was down
LATE_START = NOW - timedelta(seconds=10)  # it came up after 12:00: nothing is on time


@pytest.mark.parametrize(
    ("policies", "up_since", "start", "missed"),
    [
        pytest.param(Policies(missed_runs="Skip"), RESTARTED, hours(12), hours(10, 11), id="skip-runs-the-on-time-one"),
        pytest.param(Policies(missed_runs="Skip"), LATE_START, (), hours(10, 11, 12), id="skip-runs-nothing-late"),
        pytest.param(Policies(), RESTARTED, hours(12), hours(10, 11), id="run-latest-on-time"),
        pytest.param(Policies(), LATE_START, hours(12), hours(10, 11), id="run-latest-late"),
        pytest.param(Policies(missed_runs="RunAll"), RESTARTED, hours(10, 11, 12), (), id="run-all"),
        pytest.param(Policies(missed_runs="RunAll"), LATE_START, hours(10, 11, 12), (), id="run-all-late"),
        pytest.param(
            Policies(missed_runs="RunAll", max_missed_runs=1), RESTARTED, hours(11, 12), hours(10), id="run-all-capped"
        ),
        pytest.param(
            Policies(missed_runs="RunAll", max_missed_runs=2),
            LATE_START,
            hours(11, 12),
            hours(10),
            id="run-all-capped-late",
        ),
        pytest.param(
            Policies(missed_runs="RunAll", max_missed_runs=0),
            RESTARTED,
            hours(12),
            hours(10, 11),
            id="run-all-cap-zero",
        ),
    ],
)
def test_missed_run_policies(policies: Policies, up_since: datetime, start: tuple[datetime, ...], missed: Any) -> None:
    p = plan(policies, last_scheduled=h(9), up_since=up_since)
    assert (p.start, p.missed) == (start, missed)
    assert p.last_scheduled == h(12)  # the high-water mark covers what was missed too: never counted twice
    assert p.next_wake == h(13)


@pytest.mark.parametrize(
    ("deadline", "missed_runs", "start", "missed"),
    [
        pytest.param(600, "RunAll", hours(12), hours(10, 11), id="older-than-deadline-missed"),
        pytest.param(10, "RunAll", (), hours(10, 11, 12), id="even-the-latest-too-late"),
        pytest.param(30, "RunLatest", hours(12), hours(10, 11), id="deadline-is-inclusive"),
        pytest.param(29, "RunLatest", (), hours(10, 11, 12), id="one-second-past-the-deadline"),
        pytest.param(None, "RunAll", hours(10, 11, 12), (), id="no-deadline"),
    ],
)
def test_starting_deadline(deadline: int | None, missed_runs: Any, start: Any, missed: Any) -> None:
    policies = Policies(
        missed_runs=missed_runs, starting_deadline=None if deadline is None else timedelta(seconds=deadline)
    )
    p = plan(policies, last_scheduled=h(9), up_since=RESTARTED)
    assert (p.start, p.missed) == (start, missed)


@pytest.mark.parametrize(
    ("concurrency", "active", "queued", "start", "cancel", "queued_after", "skipped"),
    [
        pytest.param("Allow", hours(11), None, hours(12), (), None, (), id="allow-overlaps"),
        pytest.param("Forbid", hours(11), None, (), (), None, hours(12), id="forbid-skips-and-counts"),
        pytest.param("Forbid", (), None, hours(12), (), None, (), id="forbid-idle-starts"),
        pytest.param("Replace", hours(11), None, hours(12), hours(11), None, (), id="replace-cancels-then-starts"),
        pytest.param("Replace", (), None, hours(12), (), None, (), id="replace-idle-starts"),
        pytest.param("Queue", hours(11), None, (), (), h(12), (), id="queue-waits"),
        pytest.param("Queue", hours(10), h(11), (), (), h(11), hours(12), id="queue-holds-one-oldest-first"),
        pytest.param("Queue", (), h(11), hours(11), (), h(12), (), id="queue-starts-the-waiting-one-first"),
        pytest.param("Queue", (), None, hours(12), (), None, (), id="queue-idle-starts"),
    ],
)
def test_concurrency_policies(
    concurrency: Any, active: Any, queued: Any, start: Any, cancel: Any, queued_after: Any, skipped: Any
) -> None:
    p = plan(Policies(concurrency=concurrency), active=frozenset(active), queued=queued)
    assert (p.start, p.cancel, p.queued, p.skipped, p.missed) == (start, cancel, queued_after, skipped, ())


@pytest.mark.parametrize(
    ("concurrency", "active", "start", "cancel", "queued", "skipped"),
    [
        pytest.param("Allow", (), hours(10, 11, 12), (), None, (), id="allow"),
        pytest.param("Forbid", (), hours(10), (), None, hours(11, 12), id="forbid-oldest-starts"),
        pytest.param("Forbid", hours(9), (), (), None, hours(10, 11, 12), id="forbid-busy"),
        pytest.param("Replace", hours(9), hours(12), hours(9), None, hours(10, 11), id="replace-newest-wins"),
        pytest.param("Queue", (), hours(10), (), h(11), hours(12), id="queue-one-runs-one-waits"),
    ],
)
def test_concurrency_over_a_backlog_takes_instants_oldest_first(
    concurrency: Any, active: Any, start: Any, cancel: Any, queued: Any, skipped: Any
) -> None:
    p = plan(Policies(concurrency=concurrency, missed_runs="RunAll"), last_scheduled=h(9), active=frozenset(active))
    assert (p.start, p.cancel, p.queued, p.skipped) == (start, cancel, queued, skipped)


def test_a_queued_instant_past_its_deadline_is_missed_not_started() -> None:
    policies = Policies(concurrency="Queue", starting_deadline=timedelta(minutes=10))
    p = plan(policies, queued=h(11))
    assert (p.start, p.queued, p.missed) == (hours(12), None, hours(11))


def test_a_queued_instant_that_already_has_its_task_is_not_started_again() -> None:
    p = plan(Policies(concurrency="Queue"), queued=h(11), existing=frozenset(hours(11)))
    assert (p.start, p.queued) == (hours(12), None)


def test_an_instant_whose_task_exists_is_neither_started_nor_missed() -> None:
    # the Task was created but the status write was lost (a crash): the name would collide anyway
    for policies in (Policies(), Policies(missed_runs="Skip"), Policies(missed_runs="RunAll")):
        p = plan(policies, last_scheduled=h(10), up_since=RESTARTED, existing=frozenset(hours(11, 12)))
        assert (p.start, p.missed, p.last_scheduled) == ((), (), h(12)), policies
    p = plan(Policies(), last_scheduled=h(10), up_since=LATE_START, existing=frozenset(hours(12)))
    assert (p.start, p.missed) == ((), hours(11))  # RunLatest: the latest already ran, the older one is missed


def test_nothing_due_changes_nothing() -> None:
    p = plan(last_scheduled=h(12))
    assert p == Plan(last_scheduled=h(12), next_wake=h(13))


def test_a_suspended_schedule_misses_nothing_and_drops_its_waiting_instant() -> None:
    p = plan(Policies(concurrency="Queue"), last_scheduled=h(9), suspended=True, queued=h(9))
    assert p == Plan(skipped=hours(9), last_scheduled=h(9))


def test_resuming_runs_nothing_from_the_pause() -> None:
    # suspended since before 10:00, resumed at 12:00:10: `since` is the resume time
    for policies in (Policies(), Policies(missed_runs="RunAll")):
        p = plan(policies, last_scheduled=h(9), since=h(12) + timedelta(seconds=10))
        assert p == Plan(last_scheduled=h(9), next_wake=h(13))


def test_a_new_schedule_starts_with_the_first_instant_after_its_creation() -> None:
    assert plan(last_scheduled=None, since=h(11.5)).start == hours(12)
    assert plan(last_scheduled=None, since=h(12) + timedelta(seconds=1)) == Plan(next_wake=h(13))


@pytest.mark.timeout(20)
@pytest.mark.parametrize("schedule", ["* * * * *", "* * * * * *"])
def test_a_mark_years_back_is_scanned_over_its_last_instants_only(schedule: str) -> None:
    cron = parse_schedule(schedule, hash_key="ns/s")
    policies = Policies(missed_runs="RunAll", max_missed_runs=3)
    step = timedelta(seconds=1 if schedule.count(" ") == 5 else 60)
    latest = NOW.replace(second=30 if step.seconds == 1 else 0)
    up = latest - step / 2  # the operator came up just before the latest instant: years of outage before it
    p = plan_runs(cron, policies, observed(last_scheduled=datetime(2019, 3, 1, tzinfo=UTC), up_since=up))
    assert p.start == tuple(latest - i * step for i in (3, 2, 1, 0))
    assert p.missed_beyond_scan and len(p.missed) <= SCAN_LIMIT  # not the 3.6 million minutes since 2019
    assert p.missed and all(t < p.start[0] for t in p.missed)
    assert p.last_scheduled == latest


def test_a_mark_a_few_instants_back_counts_every_one_exactly() -> None:
    cron = parse_schedule("* * * * *", hash_key="ns/s")
    back = NOW - timedelta(minutes=500, seconds=30)
    p = plan_runs(cron, Policies(), observed(last_scheduled=back, up_since=LATE_START))
    assert len(p.missed) == 499 and not p.missed_beyond_scan
    assert p.start == (NOW - timedelta(seconds=30),)


EVERY_MINUTE = parse_schedule("* * * * *", hash_key="ns/s")


@pytest.mark.parametrize("missed_runs", ["Skip", "RunLatest", "RunAll"])
def test_a_late_pass_runs_every_instant_that_fell_due_while_the_operator_was_up(missed_runs: Any) -> None:
    # the operator was up all along but its pass came 2.5 minutes late (many schedules due at once):
    # 11:58, 11:59 and 12:00 are on time, not missed, whatever the missed-run policy
    policies = Policies(missed_runs=missed_runs)
    p = plan_runs(EVERY_MINUTE, policies, observed(last_scheduled=h(11) + timedelta(minutes=57)))
    minutes = tuple(h(11) + timedelta(minutes=m) for m in (58, 59, 60))
    assert (p.start, p.missed, p.last_scheduled) == (minutes, (), h(12))


def test_a_late_pass_runs_the_latest_instants_due_while_up_and_the_policy_decides_the_rest() -> None:
    # up since 10:00 but no pass since 11:00 (the apiserver was out): 60 instants fell due while up
    up = observed(last_scheduled=h(11), up_since=h(10))
    latest = tuple(NOW.replace(second=0) - timedelta(minutes=m) for m in reversed(range(LATE_RUNS_LIMIT)))
    p = plan_runs(EVERY_MINUTE, Policies(), up)
    assert p.start == latest and len(p.missed) == 60 - LATE_RUNS_LIMIT and max(p.missed) < latest[0]
    p = plan_runs(EVERY_MINUTE, Policies(missed_runs="RunAll", max_missed_runs=2), up)
    assert p.start == (latest[0] - timedelta(minutes=2), latest[0] - timedelta(minutes=1), *latest)
    assert len(p.missed) == 60 - LATE_RUNS_LIMIT - 2


def test_instants_due_while_up_but_late_still_obey_the_starting_deadline_and_concurrency() -> None:
    since = h(11) + timedelta(minutes=57)
    p = plan_runs(EVERY_MINUTE, Policies(starting_deadline=timedelta(seconds=90)), observed(last_scheduled=since))
    assert (p.start, p.missed) == ((h(11) + timedelta(minutes=59), h(12)), (h(11) + timedelta(minutes=58),))
    p = plan_runs(EVERY_MINUTE, Policies(concurrency="Forbid"), observed(last_scheduled=since))
    assert (p.start, p.skipped) == ((h(11) + timedelta(minutes=58),), (h(11) + timedelta(minutes=59), h(12)))


JITTERED = Policies(jitter_seconds=3000)


def test_a_jittered_instant_is_due_at_its_planned_start_not_before() -> None:
    delay = jitter_delay(key="ns/s", instant=h(12), next_instant=h(13), jitter_seconds=3000)
    assert timedelta(0) < delay <= timedelta(seconds=3000)
    before = plan(JITTERED, now=h(12) + delay - timedelta(seconds=1))
    assert (before.start, before.last_scheduled, before.next_wake) == ((), h(11), h(12) + delay)
    at = plan(JITTERED, now=h(12) + delay)
    assert (at.start, at.last_scheduled) == (hours(12), h(12))


def test_the_starting_deadline_counts_from_the_jittered_start() -> None:
    delay = jitter_delay(key="ns/s", instant=h(12), next_instant=h(13), jitter_seconds=3000)
    policies = replace(JITTERED, starting_deadline=timedelta(seconds=60))
    assert plan(policies, now=h(12) + delay + timedelta(seconds=60)).start == hours(12)
    assert plan(policies, now=h(12) + delay + timedelta(seconds=61)).missed == hours(12)
