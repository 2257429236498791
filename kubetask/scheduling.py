"""One pass of a TaskSchedule's controller, decided from what the cluster shows (pure).

`decide(Observed) -> Decision` is to a TaskSchedule what `kubetask.reconcile.decide` is to a Task:
the adapter (operator/schedules.py) reads the schedule, its run Tasks and its template,
and carries the Decision out in this order:

1. create the run Tasks (a name that exists already means the instant already ran: 409 is fine);
2. cancel the runs Replace replaces (`spec.cancel`; their history is kept);
3. write the status once — `lastScheduleTime`, the high-water mark, moves here;
4. delete the finished runs the history limits let go: only runs at or before the mark just
   written, and only once the SQL mirror holds them, so a deleted run's instant is never due again;
5. post the Events, and arm the wake-up for `wake_at`.

A crash between any two steps is harmless: a run created before the status write is seen as
existing by the next pass (neither started again nor missed), and nothing is deleted that the
written mark does not cover.

`schedulingSince` (in status) is the floor below which nothing is due: the creation time on the
first pass, and the time of the pass that saw the schedule resumed, become valid (spec, template,
params) or its schedule or time zone change. So resuming runs nothing from the pause, and a new
schedule does not reach back to instants of the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from kubetask import conditions as c
from kubetask import schema_check
from kubetask.labels import ANNOTATION_SCHEDULED_TIME, LABEL_SCHEDULE, LABEL_TRIGGER, TRIGGER_MANUAL, label_value
from kubetask.models import (
    API_VERSION,
    FINAL_PHASES,
    Condition,
    ConditionStatus,
    Phase,
    ScheduleRun,
    TaskScheduleSpec,
    TaskScheduleStatus,
    TaskSpec,
    TaskTemplateSpec,
)
from kubetask.models._schedule import NEXT_RUN_TIMES
from kubetask.reconcile import Event
from kubetask.schedules import (
    Cron,
    FinishedRun,
    Plan,
    Policies,
    ScheduleError,
    next_instants,
    parse_schedule,
    plan_runs,
    run_task_name,
    runs_to_delete,
)
from kubetask.schedules import Observed as PlanObserved
from kubetask.timeutil import parse_time

READY = "Ready"  # condition type: True while the schedule creates runs
REASON_SCHEDULING = "Scheduling"
REASON_SUSPENDED = "Suspended"
REASON_RUN_CREATED = "RunCreated"
REASON_RUN_MISSED = "RunMissed"
REASON_RUN_SKIPPED = "RunSkipped"
REASON_RUN_REPLACED = "RunReplaced"
REASON_RUNS_DELETED = "RunsDeleted"
RETENTION_WAIT = timedelta(seconds=2)  # look again for runs past the history limits not yet in SQL
_SCHEDULING_MESSAGE = "runs are created on schedule"


@dataclass(frozen=True)
class Run:
    """A run Task of the schedule, as the cluster shows it."""

    name: str
    instant: datetime  # the nominal time (annotation kubetask.io/scheduled-time)
    phase: Phase | None  # None: not yet reconciled
    completed: datetime | None = None
    mirrored: bool = True  # its current version is in SQL (always True without a mirror)
    manual: bool = False  # triggered by hand (label kubetask.io/trigger=manual): active, yet no nominal instant

    @property
    def final(self) -> bool:
        return self.phase is not None and self.phase in FINAL_PHASES


@dataclass(frozen=True)
class Observed:
    """What one pass sees; all times aware."""

    namespace: str
    name: str
    uid: str
    generation: int
    created: datetime
    spec: TaskScheduleSpec | None  # None: the spec failed validation (`invalid` says why)
    status: TaskScheduleStatus
    now: datetime
    up_since: datetime  # when this controller began acting
    invalid: str | None = None
    template: TaskTemplateSpec | None = None
    template_missing: bool = False
    runs: tuple[Run, ...] = ()


@dataclass(frozen=True)
class Decision:
    """What to do, in the order of the module docstring."""

    status: TaskScheduleStatus
    create: tuple[dict[str, Any], ...] = ()  # run Task bodies
    cancel: tuple[str, ...] = ()  # names of run Tasks to cancel
    delete: tuple[str, ...] = ()  # names of finished run Tasks to delete, after the status write
    events: tuple[Event, ...] = ()
    wake_at: datetime | None = None


def spec_problems(error: ValidationError) -> str:
    """One line naming every bad field of a TaskSchedule, e.g. `spec.timeZone: unknown time zone …`."""
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"])
        parts.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts[:10])


def is_manual(body: dict[str, Any]) -> bool:
    """Whether a run Task was triggered by hand: it counts as active, but its instant is no nominal one."""
    return (body.get("metadata", {}).get("labels") or {}).get(LABEL_TRIGGER) == TRIGGER_MANUAL


def run_instant(body: dict[str, Any]) -> datetime | None:
    """The nominal instant of a run Task (None when it is not a run: no readable annotation)."""
    annotations = body.get("metadata", {}).get("annotations") or {}
    try:
        return parse_time(annotations.get(ANNOTATION_SCHEDULED_TIME))
    except ValueError:
        return None


def owner_schedule(body: dict[str, Any]) -> str | None:
    """The name of the TaskSchedule that owns a Task, if one does."""
    for ref in body.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("kind") == "TaskSchedule" and ref.get("apiVersion", "").startswith("kubetask.io/"):
            return str(ref.get("name"))
    return None


def decide(o: Observed) -> Decision:
    """Decide one pass: the runs to create, cancel and delete, the status, the Events, the next wake-up."""
    if o.spec is None:
        return _not_ready(o, c.REASON_INVALID_SPEC, f"spec is invalid: {o.invalid or 'unreadable'}")
    spec = o.spec
    try:
        cron = parse_schedule(spec.schedule, time_zone=spec.time_zone, hash_key=f"{o.namespace}/{o.name}")
    except ScheduleError as e:
        return _not_ready(o, c.REASON_INVALID_SPEC, f"spec is invalid: {e}")
    ref = spec.task.template_ref.name
    if o.template_missing or o.template is None:
        message = f"TaskTemplate {ref!r} not found in namespace {o.namespace}; runs start once it exists"
        return _not_ready(o, c.REASON_TEMPLATE_NOT_FOUND, message, retention=True)
    errors = schema_check.validate(spec.task.params if spec.task.params is not None else {}, o.template.param_schema)
    if errors:
        fields = "; ".join(f"spec.task.params{e.pointer}: {e.message}" for e in errors[:10])
        return _not_ready(o, c.REASON_INVALID_SPEC, f"params do not match the paramSchema of {ref!r}: {fields}")
    if spec.suspend:
        return _suspended(o, cron)
    return _scheduling(o, cron)


# -- the three states ------------------------------------------------------------------------


def _not_ready(o: Observed, reason: str, message: str, *, retention: bool = False) -> Decision:
    """Invalid or waiting for its template: no runs; the high-water mark and counters stay."""
    status = _base_status(o).model_copy(
        update={"next_run_times": [], "conditions": _ready(o, "False", reason, message)}
    )
    events = _transition_events(o, status, warning=reason == c.REASON_INVALID_SPEC)
    delete, pending = _retention(o, o.status.last_schedule_time) if retention else ((), False)
    wake = o.now + RETENTION_WAIT if pending else None
    return Decision(status=status, delete=delete, events=events, wake_at=wake)


def _suspended(o: Observed, cron: Cron) -> Decision:
    """Suspended: misses nothing and starts nothing; a queued instant is dropped (counted skipped)."""
    assert o.spec is not None
    plan = plan_runs(cron, _policies(o.spec), _plan_observed(o, since=o.now, suspended=True))
    message = o.spec.suspend_reason or "suspended: spec.suspend is true"
    status = _apply_counts(_base_status(o), plan).model_copy(
        update={"queued": None, "next_run_times": [], "conditions": _ready(o, "False", REASON_SUSPENDED, message)}
    )
    events = (*_transition_events(o, status, warning=False), *_skip_events(plan, o))
    delete, pending = _retention(o, status.last_schedule_time)
    return Decision(status=status, delete=delete, events=events, wake_at=o.now + RETENTION_WAIT if pending else None)


def _scheduling(o: Observed, cron: Cron) -> Decision:
    assert o.spec is not None
    key = f"{cron.expr} {cron.zone.key}"
    since = _since(o, key)
    plan = plan_runs(cron, _policies(o.spec), _plan_observed(o, since=since, suspended=False))
    by_instant = {r.instant: r for r in o.runs}
    create = tuple(
        run_body(namespace=o.namespace, schedule=o.name, uid=o.uid, spec=o.spec, instant=i) for i in plan.start
    )
    cancel = tuple(by_instant[i].name for i in plan.cancel if i in by_instant and not by_instant[i].final)
    active = [ScheduleRun(name=r.name, scheduled_time=r.instant) for r in o.runs if not r.final]
    active += [ScheduleRun(name=run_task_name(o.name, i), scheduled_time=i) for i in plan.start]
    active.sort(key=lambda r: r.scheduled_time)
    after = max(t for t in (plan.last_scheduled, since) if t is not None)
    status = _apply_counts(_base_status(o), plan).model_copy(
        update={
            "last_schedule_time": plan.last_scheduled,
            "active": active,
            "active_count": len(active),
            "queued": plan.queued,
            "next_run_times": next_instants(cron, after, NEXT_RUN_TIMES),
            "scheduling_since": since,
            "observed_schedule": key,
            "conditions": _ready(o, "True", REASON_SCHEDULING, _SCHEDULING_MESSAGE),
        }
    )
    delete, pending = _retention(o, plan.last_scheduled)
    events = (
        *_transition_events(o, status, warning=False),
        *(
            Event(c.EVENT_NORMAL, REASON_RUN_CREATED, f"created Task {b['metadata']['name']} for {_t(i)}")
            for b, i in zip(create, plan.start, strict=True)
        ),
        *(Event(c.EVENT_NORMAL, REASON_RUN_REPLACED, f"cancelled Task {n}: concurrencyPolicy Replace") for n in cancel),
        *_skip_events(plan, o),
        *_missed_events(plan),
        *(
            [Event(c.EVENT_NORMAL, REASON_RUNS_DELETED, "deleted " + ", ".join(delete) + ": history limit")]
            if delete
            else ()
        ),
    )
    wake = plan.next_wake
    if pending:
        wake = min(wake, o.now + RETENTION_WAIT) if wake is not None else o.now + RETENTION_WAIT
    return Decision(status=status, create=create, cancel=cancel, delete=delete, events=events, wake_at=wake)


# -- pieces ----------------------------------------------------------------------------------


def _since(o: Observed, key: str) -> datetime:
    """The floor of due instants (module docstring)."""
    ready = c.get_condition(o.status.conditions, READY)
    if ready is None:  # the first pass: everything since creation counts
        return o.created
    if ready.status != "True" or o.status.observed_schedule != key or o.status.scheduling_since is None:
        return o.now
    return o.status.scheduling_since


def _policies(spec: TaskScheduleSpec) -> Policies:
    deadline = spec.starting_deadline_seconds
    return Policies(
        concurrency=spec.concurrency_policy,
        missed_runs=spec.missed_run_policy,
        max_missed_runs=spec.max_missed_runs,
        starting_deadline=timedelta(seconds=deadline) if deadline is not None else None,
        jitter_seconds=spec.jitter_seconds,
    )


def _plan_observed(o: Observed, *, since: datetime, suspended: bool) -> PlanObserved:
    return PlanObserved(
        key=f"{o.namespace}/{o.name}",
        now=o.now,
        since=since,
        up_since=o.up_since,
        last_scheduled=o.status.last_schedule_time,
        suspended=suspended,
        active=frozenset(r.instant for r in o.runs if not r.final),
        existing=frozenset(r.instant for r in o.runs if not r.manual),
        queued=o.status.queued,
    )


def _base_status(o: Observed) -> TaskScheduleStatus:
    """The old status with what every state refreshes: active runs, last success, generation."""
    active = sorted(
        (ScheduleRun(name=r.name, scheduled_time=r.instant) for r in o.runs if not r.final),
        key=lambda r: r.scheduled_time,
    )
    succeeded = [r.completed for r in o.runs if r.phase == Phase.SUCCEEDED and r.completed is not None]
    last_success = max(
        [*succeeded, *([o.status.last_successful_time] if o.status.last_successful_time else [])], default=None
    )
    return o.status.model_copy(
        update={
            "active": active,
            "active_count": len(active),
            "last_successful_time": last_success,
            "observed_generation": o.generation,
        }
    )


def _apply_counts(status: TaskScheduleStatus, plan: Plan) -> TaskScheduleStatus:
    update: dict[str, Any] = {}
    if plan.missed:
        update["missed_runs"] = status.missed_runs + len(plan.missed)
        update["last_missed_time"] = max(plan.missed)
    if plan.skipped:
        update["skipped_runs"] = status.skipped_runs + len(plan.skipped)
        update["last_skipped_time"] = max(plan.skipped)
    return status.model_copy(update=update) if update else status


def _ready(o: Observed, status: ConditionStatus, reason: str, message: str) -> list[Condition]:
    return c.set_condition(
        o.status.conditions,
        type_=READY,
        status=status,
        reason=reason,
        message=message[:1000],
        now=o.now,
        generation=o.generation,
    )


def _transition_events(o: Observed, new: TaskScheduleStatus, *, warning: bool) -> tuple[Event, ...]:
    """One Event when the Ready condition changes (status, reason or message)."""
    old = c.get_condition(o.status.conditions, READY)
    cond = c.get_condition(new.conditions, READY)
    if cond is None or (
        old is not None and (old.status, old.reason, old.message) == (cond.status, cond.reason, cond.message)
    ):
        return ()
    if old is None and cond.status == "True":
        return ()  # a schedule that starts valid says so by its runs
    return (Event(c.EVENT_WARNING if warning else c.EVENT_NORMAL, cond.reason, cond.message),)


def _skip_events(plan: Plan, o: Observed) -> tuple[Event, ...]:
    if not plan.skipped:
        return ()
    assert o.spec is not None
    why = "suspended" if o.spec.suspend else f"concurrencyPolicy {o.spec.concurrency_policy}"
    times = ", ".join(_t(i) for i in plan.skipped[-3:])
    more = f" (and {len(plan.skipped) - 3} more)" if len(plan.skipped) > 3 else ""
    return (Event(c.EVENT_NORMAL, REASON_RUN_SKIPPED, f"skipped the run for {times}{more}: {why}"),)


def _missed_events(plan: Plan) -> tuple[Event, ...]:
    if not plan.missed and not plan.missed_beyond_scan:
        return ()
    times = ", ".join(_t(i) for i in plan.missed[-3:])
    more = f" (and {len(plan.missed) - 3} more)" if len(plan.missed) > 3 else ""
    beyond = "; older instants were not scanned" if plan.missed_beyond_scan else ""
    return (
        Event(
            c.EVENT_WARNING,
            REASON_RUN_MISSED,
            f"missed the run for {times}{more}: past startingDeadlineSeconds or not run by missedRunPolicy{beyond}",
        ),
    )


def _retention(o: Observed, last_scheduled: datetime | None) -> tuple[tuple[str, ...], bool]:
    """(runs to delete now, whether some past the limits still wait for the mirror)."""
    assert o.spec is not None
    finished = [
        FinishedRun(name=r.name, instant=r.instant, succeeded=r.phase == Phase.SUCCEEDED, mirrored=r.mirrored)
        for r in o.runs
        if r.final
    ]
    limits = {"successful_limit": o.spec.successful_history_limit, "failed_limit": o.spec.failed_history_limit}
    delete = runs_to_delete(finished, last_scheduled=last_scheduled, **limits)
    everything = runs_to_delete(
        [FinishedRun(r.name, r.instant, r.succeeded, mirrored=True) for r in finished],
        last_scheduled=last_scheduled,
        **limits,
    )
    return delete, len(everything) > len(delete)


def run_body(
    *,
    namespace: str,
    schedule: str,
    uid: str,
    spec: TaskScheduleSpec,
    instant: datetime,
    name: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The run Task of `instant`: named from the schedule and the instant, owned by the schedule.

    The one builder of run Tasks: the controller's own runs, and the API's manual and backfilled
    runs (which pass their `name` and marking `labels`), so all of them are seen alike as runs.
    """
    t = spec.task
    task_spec = TaskSpec(
        template_ref=t.template_ref,
        params=t.params,
        retry=t.retry,
        timeout_seconds=t.timeout_seconds,
        pending_timeout_seconds=t.pending_timeout_seconds,
        deadline_seconds=t.deadline_seconds,
        ttl_seconds_after_finished=t.ttl_seconds_after_finished,
    ).to_wire()
    return {
        "apiVersion": API_VERSION,
        "kind": "Task",
        "metadata": {
            "name": name or run_task_name(schedule, instant),
            "namespace": namespace,
            "labels": {**(t.labels or {}), **(labels or {}), LABEL_SCHEDULE: label_value(schedule)},
            "annotations": {**(t.annotations or {}), ANNOTATION_SCHEDULED_TIME: _t(instant)},
            "ownerReferences": [
                {"apiVersion": API_VERSION, "kind": "TaskSchedule", "name": schedule, "uid": uid, "controller": True}
            ],
        },
        "spec": task_spec,
    }


def _t(instant: datetime) -> str:
    """RFC 3339 in UTC, as Kubernetes writes times."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
