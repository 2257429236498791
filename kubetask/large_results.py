"""Large results: the verdict on a result framed in the pod's log, and its reasons (pure).

A result over the termination message's 4 KiB travels as frames in the log
(`kubetask.executor.frames`); the report names it (`ResultRef`: size, sha256, preview). The
operator's log keeper reads the frames with the log, and `judge()` turns what it found into one
`Verdict`: the result is whole and fits the template's `resultSchema`, or the attempt fails with
a typed reason (its constant in `kubetask.conditions`, beside the other failure reasons). The
keeper writes the verdict (and an accepted result) to SQL before it lets the pod go, and the
reconciler lets the attempt be Succeeded only on a verdict read back from SQL: a Task never
reaches Succeeded with an unchecked result, and an operator restarted between the attempt's end
and the verdict reads the pod again (it still has its finalizer) and writes the same verdict,
once (one row per Task uid and attempt).

    Reason            when
    ResultTooLarge    the result is over the operator's limit (the executor refuses it first)
    ResultLost        frames missing or corrupt (size or sha256 differ), or never read (no mirror,
                      or the pod went before its log was read)
    InvalidResult     the result is not JSON or breaks the resultSchema (as for small results)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubetask import conditions as c
from kubetask import schema_check
from kubetask.executor.report import ResultRef

DEFAULT_MAX_BYTES = 1024 * 1024
# a Task whose large result has no verdict yet is looked at again this often (the keeper's release of
# the pod's finalizer is an event that wakes it sooner)
VERDICT_RECHECK_SECONDS = 10


@dataclass(frozen=True)
class Verdict:
    """What the operator decided about attempt `attempt`'s large result; `reason` None: accepted."""

    attempt: int
    size: int
    sha256: str
    preview: str
    reason: str | None = None
    message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None


def judge(
    *,
    attempt: int,
    ref: ResultRef,
    payload: bytes | None,
    problem: str | None,
    max_bytes: int,
    schema: dict[str, Any] | None,
) -> Verdict:
    """The verdict on a framed result: `payload` as put together from the frames (checked against
    the ref's size and sha256 already), or `problem` saying why it could not be."""
    base = Verdict(attempt=attempt, size=ref.size, sha256=ref.sha256, preview=ref.preview)
    if ref.size > max_bytes:
        msg = f"result is {ref.size} bytes of JSON; the limit is {max_bytes} (KUBETASK_OPERATOR_RESULT_MAX_BYTES)"
        return _reject(base, c.REASON_RESULT_TOO_LARGE, msg)
    if payload is None:
        return _reject(base, c.REASON_RESULT_LOST, f"result of {ref.size} bytes not received: {problem or 'no frames'}")
    try:
        value = json.loads(payload)
    except ValueError as e:
        return _reject(base, c.REASON_INVALID_RESULT, f"result is not JSON: {e}")
    errors = schema_check.validate(value, schema)
    if errors:
        msg = "result does not match the template's resultSchema: " + schema_check.summarize(errors)
        return _reject(base, c.REASON_INVALID_RESULT, msg)
    return base


def _reject(v: Verdict, reason: str, message: str) -> Verdict:
    return Verdict(v.attempt, v.size, v.sha256, v.preview, reason=reason, message=message)


def lost(attempt: int, ref: ResultRef, why: str) -> Verdict:
    """The verdict on a result that was never read (its pod is gone, or nothing keeps results)."""
    return _reject(Verdict(attempt, ref.size, ref.sha256, ref.preview), c.REASON_RESULT_LOST, why)
