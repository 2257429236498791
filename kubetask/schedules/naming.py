"""The run Task's name and the jitter of one instant: both drawn from the schedule's identity (pure).

A run is named from its schedule and its nominal instant, so a second create of the same instant
(a restarted operator, a second replica) collides on the name. The instant is written in UTC to the
second, `<schedule>-YYYYMMDDhhmmss`: one form for 5- and 6-field schedules (a schedule edited from
one to the other keeps sortable, distinct names), never ambiguous in a fall-back hour, and sorted
by name = sorted by time. The name stays within RUN_NAME_MAX (59) so the Task name is also a valid
label value and its Jobs keep the plain `<task>-<attempt>` form (attempts <= 100 add at most 4).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from kubetask.labels import MAX_LABEL_VALUE

MAX_ATTEMPT_SUFFIX = len("-100")  # RetryPolicy.max_attempts is at most 100
RUN_NAME_MAX = MAX_LABEL_VALUE - MAX_ATTEMPT_SUFFIX
STAMP = "%Y%m%d%H%M%S"
_HASH_LEN = 8


def run_task_name(schedule: str, instant: datetime) -> str:
    """`<schedule>-<UTC YYYYMMDDhhmmss>`; a long schedule name is cut and given a stable hash of itself."""
    stamp = instant.astimezone(UTC).strftime(STAMP)
    room = RUN_NAME_MAX - len(stamp) - 1
    if len(schedule) <= room:
        return f"{schedule}-{stamp}"
    digest = hashlib.sha256(schedule.encode()).hexdigest()[:_HASH_LEN]
    prefix = schedule[: room - _HASH_LEN - 1].rstrip("-.")
    return f"{prefix}-{digest}-{stamp}"


def jitter_delay(*, key: str, instant: datetime, next_instant: datetime | None, jitter_seconds: int) -> timedelta:
    """Whole seconds in [0, jitter_seconds], drawn from `key` (namespace/name) and `instant`.

    Capped one second short of the gap to the next instant, so a delayed run still starts before
    the next one is due and planned starts keep the order of the instants.
    """
    bound = jitter_seconds
    if next_instant is not None:
        gap = int((next_instant - instant).total_seconds())
        bound = min(bound, max(0, gap - 1))
    if bound <= 0:
        return timedelta(0)
    seed = f"{key}@{instant.astimezone(UTC).strftime(STAMP)}".encode()
    draw = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")
    return timedelta(seconds=draw % (bound + 1))
