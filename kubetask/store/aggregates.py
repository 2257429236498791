"""Aggregates of the mirror over a time window: counts by phase, success rate, durations, throughput.

Apart from `queries` because they read the table the other way: whole windows grouped by template
and phase, not pages of rows in a sort order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from kubetask.models import FINAL_PHASES, Phase
from kubetask.store.tables import TaskRow

# The final phases the success rate and the durations count: Cancelled is left out on purpose. A
# task stopped on request neither succeeded nor failed, so cancelling one must not lower the rate,
# and the time it ran until the cancel is not a run time of its template.
SUCCESS_RATE_PHASES: tuple[str, ...] = tuple(p.value for p in Phase if p in FINAL_PHASES and p != Phase.CANCELLED)


@dataclass(frozen=True)
class Figures:
    total: int
    by_phase: dict[str, int]
    success_rate: float | None
    avg_duration_seconds: float | None
    p95_duration_seconds: float | None
    tasks_per_minute: float


@dataclass(frozen=True)
class Stats:
    window_start: datetime
    window_end: datetime
    overall: Figures
    per_template: dict[str, Figures] = field(default_factory=dict)


def p95_index(n: int) -> int:
    """Nearest-rank 95th percentile: the ceil(0.95 n)-th smallest value (0-based index)."""
    return max(0, math.ceil(0.95 * n) - 1)


def _figures(by_phase: dict[str, int], timed: int, duration_sum: float, p95: float | None, minutes: float) -> Figures:
    total = sum(by_phase.values())
    finished = sum(by_phase.get(p, 0) for p in SUCCESS_RATE_PHASES)
    return Figures(
        total=total,
        by_phase=by_phase,
        success_rate=by_phase.get(Phase.SUCCEEDED, 0) / finished if finished else None,
        avg_duration_seconds=duration_sum / timed if timed else None,
        p95_duration_seconds=p95,
        tasks_per_minute=total / minutes if minutes else 0.0,
    )


def _p95_rank(n: Any) -> Any:
    """The nearest-rank 95th percentile's 1-based rank, ceil(0.95 n), in integer SQL on both backends."""
    return (95 * n + 99) // 100


def stats(
    session: Session,
    *,
    now: datetime,
    window: timedelta,
    namespace: str | None = None,
    namespaces: Sequence[str] | None = None,
) -> Stats:
    """Counts, success rate, durations and throughput of tasks created in [now - window, now).

    Two statements whatever the number of templates: counts and duration sums grouped by
    (template, phase), and the nearest-rank p95 per template and overall from one pass of window functions.
    """
    start = now - window
    where: list[ColumnElement[bool]] = [TaskRow.created_at >= start, TaskRow.created_at < now]
    if namespace:
        where.append(TaskRow.namespace == namespace)
    if namespaces is not None:  # only these (the ones the caller may list); None: every one
        where.append(TaskRow.namespace.in_(namespaces))
    minutes = window.total_seconds() / 60
    is_timed = and_(TaskRow.phase.in_(SUCCESS_RATE_PHASES), TaskRow.duration_seconds.is_not(None))
    timed_duration = case((is_timed, TaskRow.duration_seconds))
    grouped = session.execute(
        select(TaskRow.template, TaskRow.phase, func.count(), func.count(timed_duration), func.sum(timed_duration))
        .where(*where)
        .group_by(TaskRow.template, TaskRow.phase)
    ).all()
    d = TaskRow.duration_seconds
    ranked = (
        select(
            TaskRow.template.label("template"),
            d.label("d"),
            func.row_number().over(partition_by=TaskRow.template, order_by=d).label("rn"),
            func.count().over(partition_by=TaskRow.template).label("n"),
            func.row_number().over(order_by=d).label("rn_all"),
            func.count().over().label("n_all"),
        )
        .where(*where, is_timed)
        .subquery()
    )
    per_template = ranked.c.rn == _p95_rank(ranked.c.n)
    overall = ranked.c.rn_all == _p95_rank(ranked.c.n_all)
    p95: dict[str | None, float] = {}
    p95_all: float | None = None
    for template, value, is_template_p95, is_overall_p95 in session.execute(
        select(ranked.c.template, ranked.c.d, per_template, overall).where(or_(per_template, overall))
    ).all():
        if is_template_p95:
            p95[template] = float(value)
        if is_overall_p95:
            p95_all = float(value)
    phases: dict[str | None, dict[str, int]] = {}
    sums: dict[str | None, tuple[int, float]] = {}
    for template, phase, n, timed, dsum in grouped:
        phases.setdefault(template, {})[str(phase)] = int(n)
        t, s = sums.get(template, (0, 0.0))
        sums[template] = (t + int(timed), s + float(dsum or 0))
    per = {(t or ""): _figures(phases[t], *sums[t], p95.get(t), minutes) for t in phases}
    all_phases: dict[str, int] = {}
    for by_phase in phases.values():
        for phase, n in by_phase.items():
            all_phases[phase] = all_phases.get(phase, 0) + n
    timed_all = sum(t for t, _ in sums.values())
    sum_all = sum(s for _, s in sums.values())
    return Stats(start, now, _figures(all_phases, timed_all, sum_all, p95_all, minutes), per)
