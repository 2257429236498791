"""Retry policy: which failures are retried, and after how long (pure).

Delay before attempt n+1, after attempt n failed (n ≥ 1), with d = delaySeconds, f = factor,
cap = maxDelaySeconds:

    constant     d
    linear       d · n
    exponential  d · f^(n-1)

capped at `cap`, then jittered: `full` draws uniformly from [0, delay] (AWS "full jitter"),
`proportional` from [delay·(1-r), delay·(1+r)] with r = jitterRatio, capped again. The random
draw is an argument, so the math is reproducible; the operator derives it from the task's uid
and the attempt number, so re-deciding after a restart gives the same next attempt time.

A handler may say more (`kubetask.executor.errors`): a permanent failure (`PermanentFailure`) is
never retried, whatever `retryOn` says; a `retryAfterSeconds` is a floor under the delay, itself
capped by `maxDelaySeconds` (a server cannot stretch a task's retries past what its policy allows).
"""

from __future__ import annotations

import hashlib
import math

from kubetask import conditions as c
from kubetask.models import ResolvedPolicy

# Reasons a retry cannot change: the same input fails the same way.
NEVER_RETRIED = frozenset(
    {
        c.REASON_INVALID_PARAMS,
        c.REASON_INVALID_SPEC,
        c.REASON_CANCELLED,
        c.REASON_PERMANENT_FAILURE,
        c.REASON_PARAMS_REJECTED,
    }
)
# Retried by default when attempts remain (InvalidResult is not: a handler bug repeats).
RETRIED_BY_DEFAULT = frozenset(
    {
        c.REASON_NON_ZERO_EXIT,
        c.REASON_OOM_KILLED,
        c.REASON_EVICTED,
        c.REASON_DEADLINE_EXCEEDED,
        c.REASON_IMAGE_PULL_FAILED,
        c.REASON_CONTAINER_CREATE_FAILED,
        c.REASON_UNSCHEDULABLE,
        c.REASON_PENDING_TIMEOUT,
        c.REASON_POD_FAILED,
        c.REASON_POD_LOST,
    }
)


def base_delay(p: ResolvedPolicy, failed_attempt: int) -> float:
    """Delay after attempt `failed_attempt` failed, before jitter, capped."""
    n = max(1, failed_attempt)
    if p.backoff == "constant":
        raw = p.delay_seconds
    elif p.backoff == "linear":
        raw = p.delay_seconds * n
    else:
        # f^(n-1) overflows floats (OverflowError) for a large factor or n; the cap makes anything
        # that large irrelevant, so an overflow is read as "beyond the cap" (0 stays 0)
        try:
            raw = p.delay_seconds * (p.factor ** (n - 1)) if p.factor > 1 else p.delay_seconds
        except OverflowError:
            raw = math.inf if p.delay_seconds > 0 else 0.0
    return min(raw, p.max_delay_seconds)


def delay(p: ResolvedPolicy, failed_attempt: int, rand: float) -> float:
    """The jittered delay; `rand` is uniform in [0, 1)."""
    base = base_delay(p, failed_attempt)
    if p.jitter == "full":
        return base * rand
    if p.jitter == "proportional":
        return min(base * (1 - p.jitter_ratio + 2 * p.jitter_ratio * rand), p.max_delay_seconds)
    return base


def retry_after(p: ResolvedPolicy, said: float | None) -> float | None:
    """The handler's Retry-After (seconds) as honoured under `p`: capped by maxDelaySeconds."""
    if said is None:
        return None
    return min(max(0.0, said), p.max_delay_seconds)


def _matches(entries: list[int | str], reason: str, exit_code: int | None) -> bool:
    for e in entries:
        if isinstance(e, int) or (isinstance(e, str) and e.isdigit()):
            if exit_code is not None and int(e) == exit_code:
                return True
        elif e == reason:
            return True
    return False


def retryable(p: ResolvedPolicy, *, reason: str, exit_code: int | None) -> bool:
    """Whether a failure with `reason` (and `exit_code`) may be retried under `p`."""
    if reason in NEVER_RETRIED or _matches(p.no_retry_on, reason, exit_code):
        return False
    if p.retry_on is not None:
        return _matches(p.retry_on, reason, exit_code)
    return reason in RETRIED_BY_DEFAULT


def jitter_draw(uid: str, attempt: int) -> float:
    """A stable draw in [0, 1) for one task's attempt."""
    digest = hashlib.sha256(f"{uid}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
