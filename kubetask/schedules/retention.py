"""Which finished run Tasks of a schedule the history limits delete (pure).

A run Task is deleted only when three things hold: it is older than the newest
`successfulHistoryLimit` succeeded (or `failedHistoryLimit` failed) runs, the SQL mirror already
holds its final state (so its history survives the deletion), and its instant is at or before
`lastScheduleTime`. The last rule is what keeps a deleted run from running again: the high-water
mark is written before any deletion, and a restarted controller reads it before it looks at the
(now missing) Task, so the instant is never due again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FinishedRun:
    """A run Task in a final phase."""

    name: str
    instant: datetime  # its nominal time (the annotation)
    succeeded: bool  # Succeeded; Failed, Cancelled and DeadLettered count as failed
    mirrored: bool  # the SQL mirror holds its final snapshot


def runs_to_delete(
    runs: list[FinishedRun], *, successful_limit: int, failed_limit: int, last_scheduled: datetime | None
) -> tuple[str, ...]:
    """Names of the run Tasks to delete now, oldest first; the others stay (for now or for good)."""
    out: list[FinishedRun] = []
    for succeeded, limit in ((True, successful_limit), (False, failed_limit)):
        kind = sorted((r for r in runs if r.succeeded is succeeded), key=lambda r: r.instant, reverse=True)
        out += [r for r in kind[limit:] if r.mirrored and last_scheduled is not None and r.instant <= last_scheduled]
    return tuple(r.name for r in sorted(out, key=lambda r: r.instant))
