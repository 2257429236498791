"""The operator's Prometheus metrics, on a registry of its own (one per process; tests make several).

No label carries a task's name or uid (their number is unbounded); labels are namespaces, phases,
reasons, template names, verbs, resources and codes. What each metric means, and the query for each
of the HTTP scheduler's JSON figures, is in README.md ("Metrics").

Counters and histograms are updated where things happen (a status written, a Job created, a reconcile
done, an apiserver request answered). Gauges of state that already lives elsewhere (the mirror's
queue, the Event queue's drops, leadership, tasks by phase) are read when Prometheus scrapes, by a
collector, so keeping them costs nothing between scrapes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubetask.metrics import ApiserverRequests, build_info
from kubetask.models import FINAL_PHASES, Phase
from kubetask.timeutil import parse_time

Body = dict[str, Any]

# seconds: sub-second dispatch up to a stuck queue; task durations up to a day
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600, 24 * 3600)
RECONCILE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
INLINE_TEMPLATE = "(inline)"  # the template label of a Task that names no TaskTemplate


def template_label(body: Body) -> str:
    ref = (body.get("spec") or {}).get("templateRef") or {}
    return str(ref.get("name") or INLINE_TEMPLATE)


def _phase(body: Body) -> str:
    return str((body.get("status") or {}).get("phase") or "")


class OperatorMetrics:
    """Every metric of one operator process; `registry` is what `/metrics` serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.transitions = PromCounter(
            "kubetask_task_phase_transitions",
            "Tasks' phase changes written by this operator, by phase before and after.",
            ["from_phase", "to_phase"],
            registry=r,
        )
        self.dispatch_wait = Histogram(
            "kubetask_task_dispatch_wait_seconds",
            "From a Task's creation (or its runAt, when later) to its first attempt's Job created.",
            ["namespace"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.duration = Histogram(
            "kubetask_task_duration_seconds",
            "From a Task's first attempt starting to its final phase, by template and final phase.",
            ["template", "result"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.finished = PromCounter(
            "kubetask_tasks_finished",
            "Tasks that reached a final phase, by namespace, template and final phase.",
            ["namespace", "template", "result"],
            registry=r,
        )
        self.failures = PromCounter(
            "kubetask_task_failures",
            "Tasks that ended Failed or DeadLettered, by the reason of their final phase.",
            ["reason"],
            registry=r,
        )
        self.reconciles = PromCounter(
            "kubetask_reconciles", "Reconciles of a Task, by result (ok, error, skipped).", ["result"], registry=r
        )
        self.reconcile_seconds = Histogram(
            "kubetask_reconcile_duration_seconds",
            "Time one reconcile took, reads and writes included.",
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.request = ApiserverRequests(r)  # the JsonApi `observe` hook
        build_info(r, "operator")
        self.schedule_runs = PromCounter(
            "kubetask_schedule_runs", "Run Tasks created by TaskSchedules, by namespace.", ["namespace"], registry=r
        )
        # no labels: both exist (at 0) from the start, so a board's query of them has data before the
        # first miss; which schedule missed is in its status (missedRuns, lastMissedTime) and Events
        self.schedule_missed = PromCounter(
            "kubetask_schedule_missed_runs",
            "Due instants of TaskSchedules not run (past their startingDeadlineSeconds, or beyond the late-run cap).",
            registry=r,
        )
        self.schedule_skipped = PromCounter(
            "kubetask_schedule_skipped_runs",
            "Due instants of TaskSchedules skipped by their concurrency policy or a suspension.",
            registry=r,
        )
        self.schedule_lateness = Histogram(
            "kubetask_schedule_lateness_seconds",
            "From a run's nominal instant to its Task created.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self._phases: dict[tuple[str, str], tuple[str, str]] = {}  # (ns, name) -> (phase, template)
        self._guard = threading.Lock()
        self.state = _StateCollector(self)
        r.register(self.state)

    # -- tasks ---------------------------------------------------------------------------------

    def seen(self, body: Body) -> None:
        """The Task as this replica knows it now (after a reconcile): its phase for the gauge."""
        meta = body["metadata"]
        phase = _phase(body) or Phase.PENDING.value
        with self._guard:
            self._phases[(meta["namespace"], meta["name"])] = (phase, template_label(body))

    def forget(self, ns: str, name: str) -> None:
        with self._guard:
            self._phases.pop((ns, name), None)

    def forget_all(self) -> None:
        """On losing the lead: another replica counts the Tasks now."""
        with self._guard:
            self._phases.clear()

    def phase_counts(self) -> Counter[tuple[str, str]]:
        """Tasks by (namespace, phase)."""
        with self._guard:
            return Counter((ns, phase) for (ns, _), (phase, _) in self._phases.items())

    def written(self, before: Body, after: Body) -> None:
        """A status write: the phase change, and for a final phase its duration, result and reason."""
        old, new = _phase(before), _phase(after)
        if old == new:
            return
        self.transitions.labels(old or "None", new).inc()
        if new not in FINAL_PHASES or old in FINAL_PHASES:
            return
        status = after.get("status") or {}
        template = template_label(after)
        self.finished.labels(after["metadata"]["namespace"], template, new).inc()
        started, ended = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
        if started is not None and ended is not None:
            self.duration.labels(template, new).observe(max(0.0, (ended - started).total_seconds()))
        if new in (Phase.FAILED, Phase.DEAD_LETTERED):
            self.failures.labels(str(status.get("reason") or "Unknown")).inc()

    def job_created(self, body: Body, attempt: int, now: datetime) -> None:
        """The first attempt's Job was created (not adopted): the wait since the Task could start."""
        if attempt != 1:
            return
        meta = body["metadata"]
        created = parse_time(meta.get("creationTimestamp"))
        run_at = parse_time((body.get("spec") or {}).get("runAt"))
        since = [t for t in (created, run_at) if t is not None]
        if since:
            self.dispatch_wait.labels(meta["namespace"]).observe(max(0.0, (now - max(since)).total_seconds()))

    def reconciled(self, result: str, seconds: float) -> None:
        self.reconciles.labels(result).inc()
        if result != "skipped":
            self.reconcile_seconds.observe(seconds)

    # -- schedules ------------------------------------------------------------------------------

    def run_created(self, ns: str, instant: datetime | None, now: datetime) -> None:
        """A TaskSchedule's run Task was created (not found existing) for its nominal `instant`."""
        self.schedule_runs.labels(ns).inc()
        if instant is not None:
            self.schedule_lateness.observe(max(0.0, (now - instant).total_seconds()))

    def schedule_written(self, before: Body, missed: int, skipped: int) -> None:
        """A schedule's status was written: what its missed and skipped counters grew by."""
        grew_missed = missed - int(before.get("missedRuns") or 0)
        grew_skipped = skipped - int(before.get("skippedRuns") or 0)
        if grew_missed > 0:
            self.schedule_missed.inc(grew_missed)
        if grew_skipped > 0:
            self.schedule_skipped.inc(grew_skipped)


class _StateCollector(Collector):
    """Gauges read at scrape time from the parts that hold the state; each source is set by main()."""

    def __init__(self, metrics: OperatorMetrics) -> None:
        self.metrics = metrics
        self.leading: Callable[[], bool] = lambda: True
        self.mirror_depth: Callable[[], tuple[int, float]] | None = None  # (queued Tasks, oldest's age s)
        self.events_dropped: Callable[[], int] | None = None
        self.events_queued: Callable[[], int] | None = None

    def describe(self) -> list[Metric]:
        return []  # collected on demand only (auto_describe must not call collect at registration)

    def collect(self) -> Iterator[Metric]:
        leader = GaugeMetricFamily("kubetask_leader", "1 while this replica leads (acts), else 0.")
        leading = self.leading()
        leader.add_metric([], 1.0 if leading else 0.0)
        yield leader
        tasks = GaugeMetricFamily(
            "kubetask_tasks",
            "Tasks by namespace and phase, as the leading replica knows them (a standby reports none).",
            labels=["namespace", "phase"],
        )
        if leading:
            for (ns, phase), n in sorted(self.metrics.phase_counts().items()):
                tasks.add_metric([ns, phase], n)
        yield tasks
        if self.mirror_depth is not None:
            depth, age = self.mirror_depth()
            queued = GaugeMetricFamily("kubetask_mirror_queue_depth", "Task versions waiting to be written to SQL.")
            queued.add_metric([], depth)
            yield queued
            lag = GaugeMetricFamily(
                "kubetask_mirror_lag_seconds", "Age of the oldest Task version waiting to be written to SQL (0: none)."
            )
            lag.add_metric([], age)
            yield lag
        if self.events_queued is not None:
            eq = GaugeMetricFamily("kubetask_event_queue_depth", "Kubernetes Events waiting to be posted.")
            eq.add_metric([], self.events_queued())
            yield eq
        if self.events_dropped is not None:
            dropped = CounterMetricFamily(
                "kubetask_events_dropped", "Kubernetes Events dropped because their queue was full."
            )
            dropped.add_metric([], self.events_dropped())
            yield dropped
