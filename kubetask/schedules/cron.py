"""Cron expressions of a TaskSchedule and the instants they name, daylight saving included (pure).

croniter only enumerates *wall-clock* times here, on naive datetimes; turning a wall time into an
instant is this module's job, because the rule kubetask follows is Vixie cron's and croniter's is
not. Measured with croniter 7 on aware datetimes (America/New_York, 2026-11-01): `30 1 * * *` fires
at 05:30Z and again at 06:30Z, the fall-back hour's 01:30 twice; its spring-forward gaps and its
interval schedules already agree with the rule below. Mapping the wall times ourselves keeps the
rule in one place, whatever croniter does with aware times.

The rule (Vixie cron): a *fixed-time* schedule (its hour field neither `*` nor a step) runs a wall
time of a fall-back hour once, at its first occurrence, and its wall times inside a spring-forward
gap collapse into one run at the first instant after the gap. An *interval* schedule (hour field
`*`, `*/n`, `H/n`, `a-b/n`) follows elapsed time: both passes of a repeated hour run, a skipped hour
has no instants. Both come from one mapping: a fixed-time wall time w runs at the earliest instant
whose wall time is >= w, which is monotone in w; an interval wall time runs at every instant whose
wall time equals it (none in a gap, two in an overlap).
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter  # type: ignore[import-untyped]  # no stubs in deps

DEFAULT_TIME_ZONE = "UTC"
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = "minute hour day-of-month month day-of-week"
# Where wall times can lie before the instant a scan starts from: a fall-back moves wall clocks back
# by the zone's DST delta (at most 2 h in the tz database), never by a day.
_LOOKAHEAD = timedelta(hours=26)
_ONE_SECOND = timedelta(seconds=1)
# Zones whose offset never changes: no fall-back ahead to look for (most schedules run in UTC).
_FIXED_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})
# Parsed schedules kept, by (schedule, zone, hash key): a pass parses its schedule twice (the model's
# check and `decide`), and croniter's parse is a visible share of a pass (bench/README.md, figure 7).
# Sized past the schedules one operator runs; beyond it the cache only stops saving work.
_PARSED = 1 << 14


class ScheduleError(ValueError):
    """A schedule or time zone that cannot be used; `field` is its path in the TaskSchedule."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Cron:
    """A validated schedule: its expression (macros expanded), zone and the hash key of its `H`s."""

    expr: str
    zone: ZoneInfo
    hash_key: str
    seconds: bool  # 6 fields, seconds first (Quartz and Spring order)
    interval: bool  # hour field `*` or a step: follows elapsed time across DST changes

    def _iter(self, wall: datetime) -> croniter:
        return croniter(self.expr, wall, hash_id=self.hash_key, second_at_beginning=self.seconds, ret_type=datetime)


@functools.lru_cache(maxsize=_PARSED)
def parse_schedule(schedule: str, *, time_zone: str | None = None, hash_key: str) -> Cron:
    """Validate `schedule` (5 fields, 6 with seconds first, or a macro) in `time_zone` (IANA, default UTC).

    `hash_key` (the schedule's `namespace/name`) fixes what each `H` stands for, so a re-applied
    schedule keeps its minutes. Raises ScheduleError naming `spec.schedule` or `spec.timeZone`.
    """
    zone = parse_time_zone(time_zone)
    text = " ".join(schedule.split())
    expr = MACROS.get(text.lower(), text)
    fields = expr.split(" ")
    if text.startswith("@") and text.lower() not in MACROS:
        raise ScheduleError("spec.schedule", f"unknown macro {text!r}: use one of {', '.join(MACROS)}")
    if len(fields) not in (5, 6):
        raise ScheduleError(
            "spec.schedule",
            f"{text!r} has {len(fields)} fields: write 5 ({_FIELDS}) or 6 with seconds first",
        )
    seconds = len(fields) == 6
    hour = fields[2 if seconds else 1]
    cron = Cron(expr, zone, hash_key, seconds, interval=hour.startswith("*") or "/" in hour)
    try:
        # croniter searches a bounded number of years before it gives up, so this is quick even for
        # a day that never comes (`0 0 31 2 *`); 2000-01-01 starts a leap year for `0 0 29 2 *`
        cron._iter(datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError as e:
        raise ScheduleError("spec.schedule", f"{text!r} never fires: no date matches all its fields") from e
    except (CroniterError, ValueError, KeyError) as e:
        raise ScheduleError("spec.schedule", f"{text!r} is not a valid cron expression: {e}") from e
    return cron


def parse_time_zone(time_zone: str | None) -> ZoneInfo:
    """The IANA zone `time_zone` (UTC when unset); ScheduleError naming `spec.timeZone` when unknown."""
    name = time_zone or DEFAULT_TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ScheduleError(
            "spec.timeZone", f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin"
        ) from e


def next_instants(cron: Cron, after: datetime, n: int) -> list[datetime]:
    """The first `n` instants strictly after `after` (aware), in UTC, oldest first."""
    out: list[datetime] = []
    for t in instants_after(cron, after):
        if len(out) == n:
            break
        out.append(t)
    return out


def instants_after(cron: Cron, after: datetime) -> Iterator[datetime]:
    """Every instant strictly after `after`, in UTC, increasing, each once (an endless iterator).

    Wall times come from croniter in order, but an interval schedule's instants are not in wall
    order across a fall-back (01:45 EDT, then 01:00 EST), so they pass through a heap: an instant is
    released once no later wall time can map before it (every later one maps at or after
    `_earliest(wall)`).
    """
    after = after.astimezone(UTC)
    zone = cron.zone
    wall0 = _wall(after, zone) - _fold_back(after, zone) - _ONE_SECOND
    it = cron._iter(wall0)
    heap: list[datetime] = []
    last = after
    while True:
        wall: datetime = it.get_next(datetime)
        bound = _earliest(wall, zone)
        while heap and heap[0] <= bound:
            t = heapq.heappop(heap)
            if t > last:  # collapsed gap times of a fixed-time schedule share one instant
                last = t
                yield t
        for t in _instants_of(wall, zone, interval=cron.interval):
            if t > after:
                heapq.heappush(heap, t)


def latest_before(cron: Cron, before: datetime, n: int) -> datetime:
    """An instant at most about `n` instants before `before`: where a bounded scan may start."""
    wall = _wall(before.astimezone(UTC), cron.zone)
    it = cron._iter(wall)
    for _ in range(n):
        wall = it.get_prev(datetime)
    return _earliest(wall, cron.zone) - _ONE_SECOND


def _wall(t: datetime, zone: ZoneInfo) -> datetime:
    return t.astimezone(zone).replace(tzinfo=None)


def _fold_back(after: datetime, zone: ZoneInfo) -> timedelta:
    """How far before wall(after) the wall times of later instants can lie (a fall-back ahead)."""
    if zone.key in _FIXED_ZONES:
        return timedelta(0)
    now_offset = after.astimezone(zone).utcoffset() or timedelta(0)
    steps = int(_LOOKAHEAD / timedelta(minutes=30))
    ahead = (after + i * timedelta(minutes=30) for i in range(1, steps + 1))
    lowest = min((t.astimezone(zone).utcoffset() or timedelta(0) for t in ahead), default=now_offset)
    return max(timedelta(0), now_offset - lowest)


def _folds(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """The instants whose wall time is `wall`: one, two in a fall-back overlap, none in a gap."""
    out = []
    for fold in (0, 1):
        t = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if _wall(t, zone) == wall and t not in out:
            out.append(t)
    return sorted(out)


def _earliest(wall: datetime, zone: ZoneInfo) -> datetime:
    """The earliest instant whose wall time is >= `wall`: its first occurrence, or a gap's end."""
    folds = _folds(wall, zone)
    if folds:
        return folds[0]
    # In a gap, fold=0 reads `wall` with the offset before the change and fold=1 with the one after,
    # so the change lies between the two readings; find its second (tz changes are whole seconds).
    lo, hi = sorted(wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while lo_s < hi_s:
        mid = (lo_s + hi_s) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), zone) >= wall:
            hi_s = mid
        else:
            lo_s = mid + 1
    return datetime.fromtimestamp(lo_s, UTC)


def _instants_of(wall: datetime, zone: ZoneInfo, *, interval: bool) -> list[datetime]:
    return _folds(wall, zone) if interval else [_earliest(wall, zone)]
