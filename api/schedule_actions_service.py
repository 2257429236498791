"""A schedule's manual runs over the API: trigger now, backfill a range, preview (a thin adapter).

Each action reads the TaskSchedule, its run Tasks (by the schedule label, then by owner uid) and,
for a backfill, the SQL history; `kubetask.schedules.manual` decides; run Tasks are built by
`kubetask.scheduling.run_body` and created through the CRs, as the controller creates its own. The
API writes nothing else: the controller sees the new runs by their events (a manual run counts as
active; a backfilled one as the run of its instant).

Refusals: a schedule whose stored spec is invalid is a 422 naming the field (`/spec/schedule`);
one whose template is missing or whose params its paramSchema refuses is a 409 (a run could not
start); a trigger that the concurrencyPolicy forbids is a 409 naming the active run. Two triggers
racing under Forbid may both start (each saw no active run): the check is as good as the
cluster's view at the time, like the controller's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from kubetask import schema_check
from kubetask.history import snapshot
from kubetask.labels import (
    ANNOTATION_SUBMITTED_BY,
    LABEL_SCHEDULE,
    LABEL_TRIGGER,
    TRIGGER_BACKFILL,
    TRIGGER_MANUAL,
    label_value,
)
from kubetask.models import FINAL_PHASES, TaskSchedule, TaskTemplate
from kubetask.schedules import Cron, ScheduleError, parse_schedule, run_task_name
from kubetask.schedules import manual as m
from kubetask.scheduling import is_manual, run_body, run_instant, spec_problems
from kubetask.store.schedule_backfill import nominal_instants_already_run

from .bodies import TaskPublic
from .custom_resources import Body, CustomResources
from .problems import FieldProblem, ProblemError, conflict, invalid, not_found
from .task_service import TaskService, public_from_record
from .validation import check_namespace


@dataclass(frozen=True)
class _Schedule:
    namespace: str
    name: str
    uid: str
    model: TaskSchedule
    cron: Cron


@dataclass(frozen=True)
class BackfillOutcome:
    concurrency: m.BackfillConcurrency
    created: tuple[datetime, ...]
    skipped_existing: tuple[datetime, ...]
    skipped_history: tuple[datetime, ...]
    not_started: tuple[datetime, ...]


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "".join(f"/{p}" for p in loc)


class ScheduleActions:
    def __init__(self, crs: CustomResources, sessions: sessionmaker[Session], tasks: TaskService) -> None:
        self.crs = crs
        self.sessions = sessions
        self.tasks = tasks

    # -- reading -----------------------------------------------------------------------------

    def _schedule(self, ns: str, name: str) -> _Schedule:
        check_namespace(ns)
        raw = self.crs.get(ns, "taskschedules", name)
        if raw is None:
            raise not_found(f"TaskSchedule {name!r} not found in namespace {ns!r}")
        try:
            model = TaskSchedule.model_validate(raw)
        except ValidationError as e:
            problems = [
                FieldProblem(_pointer(tuple(x["loc"])), x["msg"].removeprefix("Value error, ")) for x in e.errors()[:10]
            ]
            detail = "; ".join(f"{p.pointer}: {p.message}" for p in problems[:5])
            raise invalid(f"TaskSchedule {name!r} is invalid: {detail}", problems, slug="invalid-schedule") from e
        try:
            cron = parse_schedule(model.spec.schedule, time_zone=model.spec.time_zone, hash_key=f"{ns}/{name}")
        except ScheduleError as e:  # the model checked both; kept for a schedule H makes impossible
            pointer = "/" + e.field.replace(".", "/")
            raise invalid(f"TaskSchedule {name!r} is invalid: {e}", [FieldProblem(pointer, e.message)]) from e
        return _Schedule(ns, name, str(raw["metadata"]["uid"]), model, cron)

    def _check_runnable(self, s: _Schedule) -> None:
        """409 unless a run could start: the template exists and takes the schedule's params."""
        task = s.model.spec.task
        raw = self.crs.get(s.namespace, "tasktemplates", task.template_ref.name)
        if raw is None:
            raise conflict(
                f"TaskTemplate {task.template_ref.name!r} of schedule {s.name!r} not found in namespace"
                f" {s.namespace!r}: no run can start until it exists"
            )
        try:
            template = TaskTemplate.model_validate(raw).spec
        except ValidationError as e:  # written with kubectl past the CRD's schema: no run could start
            ref = task.template_ref.name
            raise conflict(f"TaskTemplate {ref!r} of schedule {s.name!r} is invalid: {spec_problems(e)}") from e
        errors = schema_check.validate(task.params if task.params is not None else {}, template.param_schema)
        if errors:
            fields = "; ".join(f"spec.task.params{e.pointer}: {e.message}" for e in errors[:5])
            raise conflict(f"the params of schedule {s.name!r} do not match the paramSchema of its template: {fields}")

    def _labelled(self, s: _Schedule) -> list[Body]:
        """Tasks labelled with the schedule's name: its runs, and any left by an earlier schedule of that name."""
        return self.crs.list(s.namespace, "tasks", label_selector=f"{LABEL_SCHEDULE}={label_value(s.name)}")

    def _owned(self, s: _Schedule, labelled: list[Body]) -> list[Body]:
        return [
            b
            for b in labelled
            if any(r.get("uid") == s.uid for r in b["metadata"].get("ownerReferences") or [])
            and run_instant(b) is not None
        ]

    @staticmethod
    def _active(owned: list[Body]) -> list[str]:
        return [str(b["metadata"]["name"]) for b in owned if (b.get("status") or {}).get("phase") not in FINAL_PHASES]

    # -- trigger -----------------------------------------------------------------------------

    def trigger(self, ns: str, name: str, *, now: datetime, submitted_by: str | None = None) -> TaskPublic:
        """A run for now, under the schedule's concurrencyPolicy (module docstring)."""
        s = self._schedule(ns, name)
        self._check_runnable(s)
        active = self._active(self._owned(s, self._labelled(s)))
        decision = m.decide_trigger(schedule=name, policy=s.model.spec.concurrency_policy, active=active)
        if decision.refused is not None:
            raise conflict(decision.refused)
        for run in decision.cancel:
            try:
                self.tasks.cancel(ns, run)
            except ProblemError as e:
                if e.status not in (404, 409):  # finished or gone meanwhile: nothing left to replace
                    raise
        instant = m.trigger_instant(now)
        body = self._body(
            s, instant, name=m.manual_task_name(name, instant), trigger=TRIGGER_MANUAL, submitted_by=submitted_by
        )
        try:
            created = self.crs.create(ns, "tasks", body)
        except ProblemError as e:
            if e.status == 409:
                raise conflict(
                    f"a Task named {body['metadata']['name']!r} exists already: schedule {name!r} was triggered"
                    " in this second; trigger again in the next one"
                ) from e
            raise
        return public_from_record(snapshot(created), live=True)

    # -- backfill ----------------------------------------------------------------------------

    def backfill(
        self,
        ns: str,
        name: str,
        *,
        start: datetime,
        end: datetime,
        concurrency: m.BackfillConcurrency | None,
        now: datetime,
        submitted_by: str | None = None,
    ) -> BackfillOutcome:
        """The nominal instants start <= t <= end that have not run, created per `concurrency`."""
        s = self._schedule(ns, name)
        instants, problems = m.backfill_instants(s.cron, start=start, end=end, now=now)
        if problems:
            fields = [FieldProblem(f"/{p.field}", p.message) for p in problems]
            raise invalid("; ".join(f"{f.pointer}: {f.message}" for f in fields), fields)
        chosen = concurrency or m.default_backfill_concurrency(s.model.spec.concurrency_policy)
        if not instants:
            return BackfillOutcome(chosen, (), (), (), ())
        self._check_runnable(s)
        labelled = self._labelled(s)
        owned = self._owned(s, labelled)
        names = {str(b["metadata"]["name"]) for b in labelled}
        existing = {i for b in owned if not is_manual(b) and (i := run_instant(b)) is not None}
        existing |= {i for i in instants if run_task_name(name, i) in names}
        with self.sessions() as session:
            history = nominal_instants_already_run(session, namespace=ns, schedule_uid=s.uid, instants=instants)
        plan = m.plan_backfill(
            instants, existing=existing, history=history, active=bool(self._active(owned)), concurrency=chosen
        )
        created, collided = [], []
        for instant in plan.create:
            try:
                self.crs.create(
                    ns, "tasks", self._body(s, instant, name=None, trigger=TRIGGER_BACKFILL, submitted_by=submitted_by)
                )
                created.append(instant)
            except ProblemError as e:
                if e.status != 409:
                    raise
                collided.append(instant)  # the controller (or another backfill) made it meanwhile
        return BackfillOutcome(
            concurrency=chosen,
            created=tuple(created),
            skipped_existing=tuple(sorted((*plan.skipped_existing, *collided))),
            skipped_history=plan.skipped_history,
            not_started=plan.not_started,
        )

    # -- preview -----------------------------------------------------------------------------

    def preview(self, ns: str, name: str, *, count: int, now: datetime) -> tuple[TaskSchedule, list[m.PreviewInstant]]:
        """The schedule and its next `count` instants after now."""
        s = self._schedule(ns, name)
        key = f"{ns}/{name}"
        items = m.preview(s.cron, key=key, now=now, count=count, jitter_seconds=s.model.spec.jitter_seconds)
        return s.model, items

    def _body(
        self, s: _Schedule, instant: datetime, *, name: str | None, trigger: str, submitted_by: str | None
    ) -> dict[str, Any]:
        """A run Task as the controller makes it, labelled with its trigger; annotated with who asked."""
        body = run_body(
            namespace=s.namespace,
            schedule=s.name,
            uid=s.uid,
            spec=s.model.spec,
            instant=instant,
            name=name,
            labels={LABEL_TRIGGER: trigger},
        )
        if submitted_by:
            body["metadata"].setdefault("annotations", {})[ANNOTATION_SUBMITTED_BY] = submitted_by
        return body
