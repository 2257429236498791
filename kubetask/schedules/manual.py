"""Manual runs of a TaskSchedule, decided purely: trigger now, backfill a range, preview (no I/O).

The API's schedule actions read the schedule, its run Tasks and the SQL history, call these
functions with "now" passed in, and create or cancel what they return; every body is built by
`kubetask.scheduling.run_body`, so the controller sees these runs as it sees its own.

- A **triggered** run stands for "now" to the second and is named `<schedule>-<stamp>-manual`: it
  never takes a nominal instant's name, so the instant still runs when due, and the controller
  counts it as active but as the run of no instant (label `kubetask.io/trigger=manual`). The
  schedule's concurrencyPolicy decides: Allow starts it, Replace cancels the active runs first,
  Forbid and Queue refuse it while a run is active (queueing a manual run would need a second
  queue slot beside the nominal one, which status does not have).
- A **backfill** runs the nominal instants `start <= t <= end`, each under its nominal name
  (`run_task_name`), so a run the controller made, an earlier backfill, or a run already in
  history is never made twice. `end` may not lie in the future (those instants are the
  controller's) and at most `MAX_BACKFILL` instants are taken at once. Its concurrency is its own:
  Allow creates all missing ones; Forbid creates only the oldest missing one, and only while no run
  is active, so calling again continues the range one run at a time.
- A **preview** lists the next instants after now, in UTC and in the schedule's zone, with the
  start each gets from its jitter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from kubetask.schedules.cron import Cron, instants_after
from kubetask.schedules.naming import RUN_NAME_MAX, STAMP, jitter_delay
from kubetask.schedules.plan import ConcurrencyPolicy

BackfillConcurrency = Literal["Allow", "Forbid"]
MAX_BACKFILL = 100  # instants one backfill takes: a bounded number of creates per request
COUNT_LIMIT = 1000  # how far a range over the cap is counted, to say how large it is
MAX_PREVIEW = 100
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # a backfill reaches no further back (croniter's own range)
DEFAULT_PREVIEW = 10
MANUAL_SUFFIX = "-manual"
_HASH_LEN = 8


def manual_task_name(schedule: str, instant: datetime) -> str:
    """`<schedule>-<UTC YYYYMMDDhhmmss>-manual`, within RUN_NAME_MAX as `run_task_name` keeps it."""
    stamp = instant.astimezone(UTC).strftime(STAMP)
    room = RUN_NAME_MAX - len(stamp) - 1 - len(MANUAL_SUFFIX)
    if len(schedule) > room:
        digest = hashlib.sha256(schedule.encode()).hexdigest()[:_HASH_LEN]
        schedule = f"{schedule[: room - _HASH_LEN - 1].rstrip('-.')}-{digest}"
    return f"{schedule}-{stamp}{MANUAL_SUFFIX}"


def trigger_instant(now: datetime) -> datetime:
    """The instant a run triggered at `now` stands for: now in UTC, to the second."""
    return now.astimezone(UTC).replace(microsecond=0)


# -- trigger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    """What a trigger does: start (after cancelling `cancel`), or not, and then `refused` says why."""

    start: bool
    cancel: tuple[str, ...] = ()
    refused: str | None = None


def decide_trigger(*, schedule: str, policy: ConcurrencyPolicy, active: Iterable[str]) -> Trigger:
    """The schedule's concurrencyPolicy applied to a manual run, given the names of its active runs."""
    running = tuple(sorted(active))
    if not running or policy == "Allow":
        return Trigger(start=True)
    if policy == "Replace":
        return Trigger(start=True, cancel=running)
    names = ", ".join(running[:5]) + (f" (and {len(running) - 5} more)" if len(running) > 5 else "")
    why = (
        "a manual run is not queued: the one queue slot is the schedule's own"
        if policy == "Queue"
        else "a manual run would overlap it"
    )
    return Trigger(
        start=False,
        refused=(
            f"schedule {schedule!r} has an active run ({names}) and its concurrencyPolicy is {policy}: {why};"
            " trigger again once it has finished, or cancel it first"
        ),
    )


# -- backfill --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeProblem:
    """A bad bound of a backfill range: `field` is `from` or `to`."""

    field: Literal["from", "to"]
    message: str


def default_backfill_concurrency(policy: ConcurrencyPolicy) -> BackfillConcurrency:
    """A backfill follows the schedule unless told: Allow stays Allow, every other policy is Forbid."""
    return "Allow" if policy == "Allow" else "Forbid"


def backfill_instants(
    cron: Cron, *, start: datetime, end: datetime, now: datetime
) -> tuple[list[datetime], list[RangeProblem]]:
    """The nominal instants with start <= t <= end, oldest first, or the problems with the range.

    Refused: `start` before EARLIEST, `end` before `start`, `end` after `now`, and a range of more than MAX_BACKFILL
    instants (counted up to COUNT_LIMIT, so the message says how far to narrow it).
    """
    problems = []
    if start < EARLIEST:
        problems.append(RangeProblem("from", f"is before {_t(EARLIEST)}: a backfill reaches no further back"))
    if end < start:
        problems.append(RangeProblem("to", f"is before from ({_t(start)}): give to >= from"))
    if end > now:
        problems.append(
            RangeProblem("to", f"is in the future (now is {_t(now)}): instants to come are the schedule's own to run")
        )
    if problems:
        return [], problems
    found: list[datetime] = []
    for t in instants_after(cron, start - timedelta(microseconds=1)):
        if t > end or len(found) > COUNT_LIMIT:
            break
        found.append(t)
    if len(found) > MAX_BACKFILL:
        many = f"more than {COUNT_LIMIT}" if len(found) > COUNT_LIMIT else str(len(found))
        message = f"the range holds {many} instants of the schedule; a backfill takes at most {MAX_BACKFILL}"
        return [], [RangeProblem("to", message + ": narrow the range, or backfill it in parts")]
    return found, []


@dataclass(frozen=True)
class Backfill:
    """Each instant of the range in exactly one list, each list oldest first."""

    create: tuple[datetime, ...] = ()
    skipped_existing: tuple[datetime, ...] = ()  # its run Task exists
    skipped_history: tuple[datetime, ...] = ()  # its run Task is gone, but the SQL mirror holds it
    not_started: tuple[datetime, ...] = ()  # missing, held back by concurrency Forbid


def plan_backfill(
    instants: Iterable[datetime],
    *,
    existing: Collection[datetime],
    history: Collection[datetime],
    active: bool,
    concurrency: BackfillConcurrency,
) -> Backfill:
    """Which instants to create: the missing ones (neither existing nor in history), per `concurrency`.

    `active`: the schedule has a run not yet finished (a manual one too); only Forbid minds it.
    """
    ordered = sorted(set(instants))
    skipped_existing = tuple(i for i in ordered if i in existing)
    skipped_history = tuple(i for i in ordered if i not in existing and i in history)
    missing = [i for i in ordered if i not in existing and i not in history]
    if concurrency == "Allow":
        create = tuple(missing)
    else:
        create = tuple(missing[:1]) if not active else ()
    return Backfill(
        create=create,
        skipped_existing=skipped_existing,
        skipped_history=skipped_history,
        not_started=tuple(missing[len(create) :]),
    )


# -- preview ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewInstant:
    time: datetime  # the nominal instant, UTC
    local_time: datetime  # the same instant in the schedule's zone
    start_time: datetime  # when its run starts: the instant plus its jitter


def preview(cron: Cron, *, key: str, now: datetime, count: int, jitter_seconds: int) -> list[PreviewInstant]:
    """The next `count` instants after `now`; `key` (namespace/name) draws the jitter as the controller does."""
    times: list[datetime] = []
    for t in instants_after(cron, now):
        times.append(t)
        if len(times) > count:  # one more: the jitter is bounded by the gap to the next instant
            break
    out = []
    for i, t in enumerate(times[:count]):
        following = times[i + 1] if i + 1 < len(times) else None
        delay = jitter_delay(key=key, instant=t, next_instant=following, jitter_seconds=jitter_seconds)
        out.append(PreviewInstant(time=t, local_time=t.astimezone(cron.zone), start_time=t + delay))
    return out


def _t(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
