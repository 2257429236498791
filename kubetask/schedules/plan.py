"""Which instants of a TaskSchedule start now, and which are missed, skipped, queued or replaced (pure).

`plan_runs` is the whole decision of one controller pass: it is given the schedule, its policies and
what the cluster shows (the high-water mark `lastScheduleTime`, the run Tasks that exist and those
still active, the queued instant) and "now", and returns a `Plan`. The controller only carries it
out, so a restarted operator re-derives the same answer from the CRs alone.

The words, as the README's schedule section uses them:
- *due*: an instant after the high-water mark (and after `since`) whose planned start (the nominal
  instant plus its jitter) is at or before now. Due instants are a prefix of the schedule, because
  jitter never pushes a start past the next instant.
- *missed* (counted): a due instant not started within `startingDeadlineSeconds` of its planned
  start, or one the missed-run policy does not run.
- *on time*: a due instant that fell due while this controller was up (`up_since`), even when the
  pass came late (the controller lagged behind many schedules due at once): every policy runs it,
  so a slow controller makes runs late, not missing. A pass runs the latest LATE_RUNS_LIMIT of them
  at most (an apiserver outage while the controller was up must not start an hour of a
  every-second schedule's runs at once); older ones join the backlog. The missed-run policy decides
  about the backlog, the due instants that fell due while no controller was up (or beyond that
  limit): Skip runs none, RunLatest runs the latest of them when no instant is on time, RunAll runs
  the latest `maxMissedRuns` of them (older ones counted missed).
- *skipped* (counted): an instant the concurrency policy does not start: Forbid while a run is
  active, Queue when one instant already waits, Replace for all but the newest of one pass (they
  would be replaced at once), and a queued instant when the schedule is suspended.

Instants are taken oldest first, as if each arrived in turn. The high-water mark moves to the
latest due instant whatever became of it, so nothing is decided twice. Work is bounded: a schedule
whose mark lies years back is scanned over its last SCAN_LIMIT instants only (`missed_beyond_scan`
says that older ones were missed, uncounted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from kubetask.schedules.cron import Cron, instants_after, latest_before, next_instants
from kubetask.schedules.naming import jitter_delay

ConcurrencyPolicy = Literal["Allow", "Forbid", "Replace", "Queue"]
MissedRunPolicy = Literal["Skip", "RunLatest", "RunAll"]
DEFAULT_CONCURRENCY_POLICY: ConcurrencyPolicy = "Allow"
DEFAULT_MISSED_RUN_POLICY: MissedRunPolicy = "RunLatest"
DEFAULT_MAX_MISSED_RUNS = 10
SCAN_LIMIT = 1000  # instants looked at in one pass, at most (plus the one after them)
LATE_RUNS_LIMIT = 10  # on-time instants one late pass runs, at most (the latest; older ones count as missed-while-down)


@dataclass(frozen=True)
class Policies:
    """The policies of a TaskSchedule's spec, defaults applied."""

    concurrency: ConcurrencyPolicy = DEFAULT_CONCURRENCY_POLICY
    missed_runs: MissedRunPolicy = DEFAULT_MISSED_RUN_POLICY
    max_missed_runs: int = DEFAULT_MAX_MISSED_RUNS
    starting_deadline: timedelta | None = None
    jitter_seconds: int = 0


@dataclass(frozen=True)
class Observed:
    """What one controller pass sees; all times aware."""

    key: str  # `namespace/name`: the seed of the jitter (and of `H`, in Cron)
    now: datetime
    since: datetime  # nothing at or before it is due: creation, last resume or last schedule change
    up_since: datetime  # when this controller began acting (started, or won the leadership)
    last_scheduled: datetime | None = None  # status.lastScheduleTime, the high-water mark
    suspended: bool = False
    active: frozenset[datetime] = frozenset()  # nominal instants of run Tasks not yet final
    existing: frozenset[datetime] = frozenset()  # nominal instants of all run Tasks in the cluster
    queued: datetime | None = None  # status.queued


@dataclass(frozen=True)
class Plan:
    """The outcome of one pass: Tasks to create and to cancel, and the status to write."""

    start: tuple[datetime, ...] = ()
    cancel: tuple[datetime, ...] = ()  # active runs that Replace cancels (their history is kept)
    queued: datetime | None = None
    missed: tuple[datetime, ...] = ()
    missed_beyond_scan: bool = False
    skipped: tuple[datetime, ...] = ()
    last_scheduled: datetime | None = None
    next_wake: datetime | None = None  # planned start of the next instant: when to look again


@dataclass(frozen=True)
class _Due:
    instants: list[tuple[datetime, datetime]]  # (nominal, planned start), oldest first
    next_planned: datetime
    truncated: bool


def plan_runs(cron: Cron, policies: Policies, observed: Observed) -> Plan:
    """Decide one pass of a schedule: what starts now, what is missed, skipped, queued or cancelled."""
    o = observed
    if o.suspended:  # misses nothing; a waiting instant is dropped, so resuming runs nothing from the pause
        return Plan(skipped=(o.queued,) if o.queued else (), last_scheduled=o.last_scheduled)
    lower = max(o.since, o.last_scheduled) if o.last_scheduled else o.since
    due = _due(cron, policies.jitter_seconds, o.key, lower, o.now)
    deadline = policies.starting_deadline
    expired = [n for n, p in due.instants if deadline is not None and o.now - p > deadline]
    live = due.instants[len(expired) :]  # planned starts increase, so the expired ones come first
    on_time = [n for n, p in live if p >= o.up_since][-LATE_RUNS_LIMIT:]  # fell due while up: a late pass runs them
    backlog = [n for n, _ in live[: len(live) - len(on_time)]]
    run = [*_from_backlog(backlog, policies, has_on_time=bool(on_time)), *on_time]
    # a run Task that exists already ran (its status write may have been lost): neither started nor missed
    missed = [n for n in (*expired, *backlog) if n not in run and n not in o.existing]
    waiting = o.queued if o.queued is not None and o.queued not in o.existing else None
    if waiting is not None and _expired(cron, policies, o, waiting):
        missed.insert(0, waiting)
        waiting = None
    candidates = [*([waiting] if waiting else []), *(n for n in run if n not in o.existing)]
    start, cancel, queued, skipped = _concurrency(policies.concurrency, candidates, o.active)
    return Plan(
        start=start,
        cancel=cancel,
        queued=queued,
        missed=tuple(sorted(missed)),
        missed_beyond_scan=due.truncated,
        skipped=skipped,
        last_scheduled=due.instants[-1][0] if due.instants else o.last_scheduled,
        next_wake=due.next_planned,
    )


def _from_backlog(backlog: list[datetime], policies: Policies, *, has_on_time: bool) -> list[datetime]:
    """The instants that fell due while no controller was up that the missed-run policy runs."""
    if policies.missed_runs == "RunAll":
        return backlog[-policies.max_missed_runs :] if policies.max_missed_runs > 0 else []
    if policies.missed_runs == "RunLatest" and not has_on_time:
        return backlog[-1:]
    return []


def _expired(cron: Cron, policies: Policies, o: Observed, instant: datetime) -> bool:
    if policies.starting_deadline is None:
        return False
    following = next_instants(cron, instant, 1)
    planned = instant + jitter_delay(
        key=o.key,
        instant=instant,
        next_instant=following[0] if following else None,
        jitter_seconds=policies.jitter_seconds,
    )
    return o.now - planned > policies.starting_deadline


def _concurrency(
    policy: ConcurrencyPolicy, candidates: list[datetime], active: frozenset[datetime]
) -> tuple[tuple[datetime, ...], tuple[datetime, ...], datetime | None, tuple[datetime, ...]]:
    """(start, cancel, queued, skipped) of `candidates`, oldest first, under `policy`."""
    if not candidates:
        return (), (), None, ()
    if policy == "Allow":
        return tuple(candidates), (), None, ()
    if policy == "Replace":
        return (candidates[-1],), tuple(sorted(active)), None, tuple(candidates[:-1])
    if policy == "Forbid":
        if active:
            return (), (), None, tuple(candidates)
        return (candidates[0],), (), None, tuple(candidates[1:])
    start: list[datetime] = []
    queued: datetime | None = None
    skipped: list[datetime] = []
    running = bool(active)
    for instant in candidates:  # Queue: the oldest waiting instant keeps its place
        if not running:
            start.append(instant)
            running = True
        elif queued is None:
            queued = instant
        else:
            skipped.append(instant)
    return tuple(start), (), queued, tuple(skipped)


def _due(cron: Cron, jitter_seconds: int, key: str, lower: datetime, now: datetime) -> _Due:
    """The due instants after `lower`: all of them, or the last SCAN_LIMIT when there are more."""
    instants, next_planned = _walk(cron, jitter_seconds, key, lower, now, limit=SCAN_LIMIT)
    if len(instants) <= SCAN_LIMIT:
        return _Due(instants, next_planned, truncated=False)
    start = max(lower, latest_before(cron, now, SCAN_LIMIT))
    instants, next_planned = _walk(cron, jitter_seconds, key, start, now, limit=None)
    return _Due(instants[-SCAN_LIMIT:], next_planned, truncated=True)


def _walk(
    cron: Cron, jitter_seconds: int, key: str, after: datetime, now: datetime, *, limit: int | None
) -> tuple[list[tuple[datetime, datetime]], datetime]:
    """(nominal, planned) of due instants after `after`, stopping past `limit` of them; the next planned start."""
    out: list[tuple[datetime, datetime]] = []
    it = instants_after(cron, after)
    current = next(it)
    for following in it:
        planned = current + jitter_delay(
            key=key, instant=current, next_instant=following, jitter_seconds=jitter_seconds
        )
        if planned > now or (limit is not None and len(out) > limit):
            return out, planned
        out.append((current, planned))
        current = following
    raise AssertionError("instants_after never ends")  # pragma: no cover
