"""Properties of a schedule pass: every due instant is accounted for once, and a pass is idempotent.

"Never fires twice, never skips silently" at the level of the pure decision: each instant that
fell due is started, queued, skipped or missed (exactly one of them), and once the controller has
carried a plan out, a second pass at the same moment decides nothing new.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kubetask.schedules import Cron, Observed, Plan, Policies, instants_after, next_instants, parse_schedule, plan_runs

NOW = datetime(2026, 11, 1, 7, 0, 30, tzinfo=UTC)  # just after New York's fall-back hour
CRONS = [
    parse_schedule("0 * * * *", hash_key="ns/s"),
    parse_schedule("*/10 * * * *", time_zone="America/New_York", hash_key="ns/s"),
    parse_schedule("*/15 1 * * *", time_zone="America/New_York", hash_key="ns/s"),
    parse_schedule("*/20 * * * * *", hash_key="ns/s"),
    parse_schedule("H * * * *", time_zone="Europe/Berlin", hash_key="ns/s"),
]

policies = st.builds(
    Policies,
    concurrency=st.sampled_from(["Allow", "Forbid", "Replace", "Queue"]),
    missed_runs=st.sampled_from(["Skip", "RunLatest", "RunAll"]),
    max_missed_runs=st.integers(min_value=0, max_value=5),
    starting_deadline=st.one_of(
        st.none(), st.integers(min_value=1, max_value=7200).map(lambda s: timedelta(seconds=s))
    ),
    jitter_seconds=st.sampled_from([0, 0, 30, 600]),
)
# within 3 hours: below SCAN_LIMIT even every 20 s (the bounded scan has its own table tests)
ago = st.integers(min_value=0, max_value=3 * 3600).map(lambda s: NOW - timedelta(seconds=s))


@st.composite
def passes(draw: st.DrawFn) -> tuple[Cron, Policies, Observed]:
    cron = draw(st.sampled_from(CRONS))
    last = draw(st.one_of(st.none(), ago))
    recent = next_instants(cron, NOW - timedelta(hours=6), 40)
    recent = [t for t in recent if t <= (last or NOW)]
    active = draw(st.sets(st.sampled_from(recent), max_size=2)) if recent else set()
    # run Tasks created after the mark whose status write was lost (a crash between the two)
    unrecorded = [t for t in next_instants(cron, last or NOW - timedelta(hours=3), 3) if t <= NOW]
    lost = draw(st.sets(st.sampled_from(unrecorded), max_size=2)) if unrecorded else set()
    observed = Observed(
        key="ns/s",
        now=NOW,
        since=NOW - timedelta(hours=3),
        up_since=draw(ago),
        last_scheduled=last,
        suspended=draw(st.booleans()),
        active=frozenset(active),
        existing=frozenset(active | lost),
        queued=draw(st.one_of(st.none(), st.sampled_from(recent))) if recent and last else None,
    )
    return cron, draw(policies), observed


def _carried_out(o: Observed, p: Plan) -> Observed:
    """The cluster after the controller did what `p` says: Tasks created and cancelled, status written."""
    started = frozenset(p.start)
    return Observed(
        key=o.key,
        now=o.now,
        since=o.since,
        up_since=o.up_since,
        last_scheduled=p.last_scheduled,
        suspended=o.suspended,
        active=(o.active - frozenset(p.cancel)) | started,
        existing=o.existing | started,
        queued=p.queued,
    )


@settings(max_examples=100, deadline=None)
@given(case=passes())
def test_a_second_pass_after_carrying_out_a_plan_decides_nothing_new(case: tuple[Cron, Policies, Observed]) -> None:
    cron, pol, o = case
    first = plan_runs(cron, pol, o)
    after = _carried_out(o, first)
    second = plan_runs(cron, pol, after)
    assert (second.start, second.cancel, second.missed, second.skipped) == ((), (), (), ())
    assert (second.queued, second.last_scheduled) == (after.queued, after.last_scheduled)
    assert not set(first.start) & o.existing  # nothing that already has its Task starts again


@settings(max_examples=100, deadline=None)
@given(case=passes())
def test_every_due_instant_is_started_queued_skipped_or_missed_exactly_once(
    case: tuple[Cron, Policies, Observed],
) -> None:
    cron, pol, o = case
    # nothing queued, existing or suspended, and no jitter: then "due" is plainly (mark, now]
    o = replace(o, suspended=False, existing=frozenset(), queued=None)
    pol = replace(pol, jitter_seconds=0)
    p = plan_runs(cron, pol, o)
    lower = o.last_scheduled or o.since
    due = list(itertools.takewhile(lambda t: t <= o.now, instants_after(cron, lower)))
    assert not p.missed_beyond_scan
    accounted = [*p.start, *p.missed, *p.skipped, *([p.queued] if p.queued else [])]
    assert sorted(accounted) == due
    assert p.last_scheduled == (due[-1] if due else o.last_scheduled)
    assert p.next_wake is not None and p.next_wake > o.now
