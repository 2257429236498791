"""The schedule controller: one TaskSchedule's pass, carried out on the apiserver.

Same shape as the Task reconciler: read (the schedule body kept from its watch events; its run
Tasks from the run index, `kubetask.run_index`, kept from Task events and our own writes and seeded
by one LIST of the namespace's run Tasks on the first pass there in this process (while acting); the
template), let
`kubetask.scheduling.decide` choose, perform in the order that module gives. Passes are run by
kopf's on-event handler for TaskSchedules, by the schedules' own wake-ups (a second `Requeue`: the
next due instant, retention retries), and when a run Task finishes or goes (the Task reconciler
calls `run_changed`).

No timers and no reads between instants: the schedule's body is the newest one this process
knows — from a watch event, the start-up (or leadership) listing, or the answer to our own status
write — so an idle schedule costs nothing until its wake-up. The body can lag only behind a
user's edit still in flight (its event follows and runs another pass) or behind another
replica's write, which the listing made on taking the lead rules out.

The seeding LIST is one per namespace, not one per schedule: etcd reads a namespace's whole Task
range whatever the label selector, so 1000 new schedules in a namespace whose runs pile up cost
1000 ever larger LISTs, on kopf's handler threads that the Task dispatch shares (figure 7 in
bench/README.md). Runs made after that listing reach the index through the Task watch, or as our
own creations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from kubetask.kubeapi import Body
from kubetask.models import FINAL_PHASES, Phase, TaskSchedule, TaskScheduleStatus, TaskTemplateSpec
from kubetask.reconcile import Event
from kubetask.run_index import RunIndex
from kubetask.scheduling import Decision, Observed, Run, decide, is_manual, owner_schedule, run_instant, spec_problems
from kubetask.timeutil import parse_time

from .metrics import OperatorMetrics
from .mirror import Mirror

log = logging.getLogger("kubetask.operator")
FAILED_PASS_RETRY = timedelta(seconds=3)  # a pass that failed (apiserver error) is tried again this soon
Key = tuple[str, str]


def _utc_now() -> datetime:
    return datetime.now(UTC)  # the only clock read: passes take "now" from `clock`


class SchedulesApi(Protocol):
    """The apiserver calls of the schedule controller (`kube.Apiserver`; an in-memory one in the unit tests)."""

    def list_schedules(self) -> list[Body]: ...
    def list_runs(self, ns: str) -> tuple[list[Body], int]: ...
    def create_task(self, ns: str, body: Body) -> bool: ...
    def cancel_task(self, ns: str, name: str) -> bool: ...
    def delete_task(self, ns: str, name: str) -> bool: ...
    def write_status(self, raw: Body, new: dict[str, Any]) -> Body | None: ...
    def post_event(self, raw: Body, ev: Event) -> None: ...


@dataclass
class ScheduleRecord:
    """One schedule's memory; `lock` serialises its passes."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    body: Body | None = None  # the newest body known
    decided: str | None = None  # resourceVersion of the last body a pass ran on (or that we wrote)
    template: str | None = None  # the TaskTemplate it uses
    mirrored: str | None = None  # resourceVersion last handed to the SQL mirror
    unwritten: tuple[Body, Decision] | None = None  # a pass that created runs: its status write and what follows
    pass_wanted: bool = False  # a wake-up asked for a fresh pass (not only the status write)


def _phase(value: object) -> Phase | None:
    try:
        return Phase(str(value))
    except ValueError:
        return None


def _version(raw: Body) -> int:
    v = str(raw.get("metadata", {}).get("resourceVersion", ""))
    return int(v) if v.isdigit() else -1


class ScheduleController:
    """Runs the passes of every TaskSchedule this process sees."""

    def __init__(
        self,
        apiserver: SchedulesApi,
        mirror: Mirror | None,
        *,
        template: Callable[[str, str], TaskTemplateSpec | None],
        acting: Callable[[], bool],
        runs: RunIndex | None = None,
        defer_writes: bool = True,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.apiserver = apiserver
        self.mirror = mirror
        self.runs = runs if runs is not None else RunIndex()
        self.template = template
        self.acting = acting
        self.requeue: Callable[[datetime, str, str], None] | None = None
        self.metrics: OperatorMetrics | None = None  # set by main() when metrics are served
        self.clock = clock
        self.up_since = clock()
        self.defer_writes = defer_writes
        self._guard = threading.Lock()
        self._records: dict[Key, ScheduleRecord] = {}
        self._listed: dict[str, int] = {}  # namespace → resourceVersion of its one listing of run Tasks
        self._listing: dict[str, threading.Lock] = {}  # one listing per namespace at a time

    # -- memory ----------------------------------------------------------------------------------

    def _record(self, ns: str, name: str) -> ScheduleRecord:
        with self._guard:
            return self._records.setdefault((ns, name), ScheduleRecord())

    def observe(self, body: Body) -> bool:
        """Keep `body` if it is the newest known; whether a pass should run for it (False for the echo
        of our own status write or a version already passed on)."""
        meta = body["metadata"]
        rec = self._record(meta["namespace"], meta["name"])
        with self._guard:
            if rec.body is None or _version(body) > _version(rec.body):
                rec.body = body
            return str(meta.get("resourceVersion")) != rec.decided

    def forget(self, ns: str, name: str, uid: str | None = None) -> None:
        """The schedule was deleted: drop its memory; its SQL row is marked deleted (its runs' history stays)."""
        with self._guard:
            self._records.pop((ns, name), None)
            self._listed.pop(ns, None)  # a schedule of that name made again lists afresh
        self.runs.forget(ns, name)
        if uid is not None and self.mirror is not None:
            self.mirror.schedule_deleted(uid)

    def start_acting(self) -> None:
        """On taking the lead: from now on instants fall due "on time"; re-derive every schedule from
        one listing (the bodies kept while standing by may trail the last leader's writes)."""
        self.up_since = self.clock()
        with self._guard:
            self._listed.clear()  # listings of an earlier term may trail the last leader's runs
        for body in self.apiserver.list_schedules():
            body.setdefault("kind", "TaskSchedule")
            with self._guard:
                rec = self._records.setdefault(
                    (body["metadata"]["namespace"], body["metadata"]["name"]), ScheduleRecord()
                )
                rec.body = body
        for ns, name in self.known():
            self.reconcile(ns, name)

    def known(self) -> list[Key]:
        with self._guard:
            return sorted(self._records)

    def run_changed(self, ns: str, schedule: str) -> None:
        """A run Task finished or went: pass again soon (Queue starts its waiting instant, active[] shrinks)."""
        self._again(ns, schedule, self.clock())

    def _again(self, ns: str, name: str, when: datetime) -> None:
        """A fresh pass at `when` (a wake-up that finds only a deferred status write does that one alone)."""
        with self._guard:
            rec = self._records.get((ns, name))
            if rec is not None:
                rec.pass_wanted = True
        if self.requeue is not None:
            self.requeue(when, ns, name)

    def template_changed(self, ns: str, template: str) -> None:
        """A TaskTemplate appeared, changed or went: pass again over the schedules that use it."""
        with self._guard:
            names = [n for (ns_, n), r in self._records.items() if ns_ == ns and r.template == template]
        for name in names:
            self.run_changed(ns, name)

    # -- one pass --------------------------------------------------------------------------------

    def reconcile(self, ns: str, name: str) -> None:
        """One pass over the schedule, if this replica acts (a status write a pass deferred is made first);
        a failed pass is tried again shortly."""
        self._run(ns, name, fresh=True)

    def wake(self, ns: str, name: str) -> None:
        """A wake-up (the schedules' `Requeue`): a deferred status write alone when that is all it was
        armed for, else a pass."""
        self._run(ns, name, fresh=False)

    def _run(self, ns: str, name: str, *, fresh: bool) -> None:
        if not self.acting():
            return
        with self._guard:
            rec = self._records.get((ns, name))  # None: deleted (a wake-up armed before) or never seen
        if rec is None:
            return
        with rec.lock:
            with self._guard:
                raw = rec.body
                pending, rec.unwritten = rec.unwritten, None
                fresh = fresh or rec.pass_wanted or pending is None
                if fresh:
                    rec.pass_wanted = False
            if raw is None or raw["metadata"].get("deletionTimestamp"):
                return
            try:
                if pending is not None:
                    self._finish(rec, *pending)
                    with self._guard:
                        raw = rec.body or raw
                if fresh:
                    self._pass(rec, raw)
            except Exception:
                log.exception("pass over TaskSchedule %s/%s failed; trying again shortly", ns, name)
                self._again(ns, name, self.clock() + FAILED_PASS_RETRY)

    def _pass(self, rec: ScheduleRecord, raw: Body) -> None:
        self._perform(rec, raw, decide(self._observe(rec, raw, self.clock())))

    def _observe(self, rec: ScheduleRecord, raw: Body, now: datetime) -> Observed:
        meta = raw["metadata"]
        ns, name = meta["namespace"], meta["name"]
        try:
            status = TaskScheduleStatus.model_validate(raw.get("status") or {})
        except ValidationError:
            status = TaskScheduleStatus()  # unreadable status: start over from the creation time
        common = {
            "namespace": ns,
            "name": name,
            "uid": meta["uid"],
            "generation": int(meta.get("generation", 1)),
            "created": parse_time(meta.get("creationTimestamp")) or now,
            "status": status,
            "now": now,
            "up_since": self.up_since,
        }
        try:
            spec = TaskSchedule.model_validate(raw).spec
        except ValidationError as e:
            return Observed(spec=None, invalid=spec_problems(e), **common)
        ref = spec.task.template_ref.name
        with self._guard:
            rec.template = ref
        template = self.template(ns, ref)
        runs = tuple(self._runs(ns, name, meta["uid"]))
        return Observed(
            spec=spec,
            template=template,
            template_missing=template is None,
            runs=runs,
            **common,
        )

    def _runs(self, ns: str, name: str, uid: str) -> list[Run]:
        if not self.runs.seeded(ns, name):  # its first pass in this process: the namespace's listing
            self._seed(ns, name)
        out = []
        for body in self.runs.runs(ns, name):
            meta = body["metadata"]
            owned = any(r.get("uid") == uid for r in meta.get("ownerReferences") or [])
            instant = run_instant(body)
            if not owned or instant is None or owner_schedule(body) != name:
                continue
            status = body.get("status") or {}
            phase = _phase(status.get("phase"))
            mirrored = True
            if (
                phase in FINAL_PHASES
                and self.mirror is not None
                and not self.mirror.mirrored(meta["uid"], str(meta["resourceVersion"]))
            ):
                mirrored = False
                self.mirror.submit(body)
            out.append(
                Run(
                    name=meta["name"],
                    instant=instant,
                    phase=phase,
                    completed=parse_time(status.get("completionTime")),
                    mirrored=mirrored,
                    manual=is_manual(body),
                )
            )
        return out

    def _seed(self, ns: str, name: str) -> None:
        """Seed the index for `name` from the namespace's one listing of run Tasks, made now if none
        was made yet (every schedule in it seeded at once); a schedule without runs in it had none."""
        with self._guard:
            lock = self._listing.setdefault(ns, threading.Lock())
        with lock:  # the passes that wait here use the listing the first one makes
            if self.runs.seeded(ns, name):
                return
            with self._guard:
                version = self._listed.get(ns)
            if version is None:
                items, version = self.apiserver.list_runs(ns)
                by_schedule: dict[str, list[Body]] = {}
                for body in items:
                    owner = owner_schedule(body)
                    if owner is not None:
                        by_schedule.setdefault(owner, []).append(body)
                for schedule, runs in by_schedule.items():
                    self.runs.seed(ns, schedule, runs, version)
                with self._guard:
                    self._listed[ns] = version
            if not self.runs.seeded(ns, name):
                self.runs.seed(ns, name, [], version)

    def _perform(self, rec: ScheduleRecord, raw: Body, d: Decision) -> None:
        """Create and cancel runs, then the rest (`_finish`). A pass that created runs defers the rest
        to a wake-up right after (`defer_writes`): the other schedules due at the same instant get
        their runs before anyone's status write; the next pass of this one makes the write first."""
        meta = raw["metadata"]
        ns, name = meta["namespace"], meta["name"]
        ctx = {"namespace": ns, "schedule": name}
        for body in d.create:
            task = body["metadata"]["name"]
            if self.apiserver.create_task(ns, body):
                self.runs.created(body)
                log.info("created run Task %s", task, extra=ctx)
                if self.metrics is not None:
                    self.metrics.run_created(ns, run_instant(body), self.clock())
            else:
                log.info("run Task %s exists already: that instant ran", task, extra=ctx)
        for task in d.cancel:
            self.apiserver.cancel_task(ns, task)
            log.info("cancelled run Task %s (concurrencyPolicy Replace)", task, extra=ctx)
        if d.create and self.defer_writes and self.requeue is not None:
            with self._guard:
                rec.unwritten = (raw, d)
            self.requeue(self.clock(), ns, name)
            return
        self._finish(rec, raw, d)

    def _finish(self, rec: ScheduleRecord, raw: Body, d: Decision) -> None:
        """The status write, then the SQL row, the history-limit deletions, the Events, the next wake-up."""
        meta = raw["metadata"]
        ns, name = meta["namespace"], meta["name"]
        ctx = {"namespace": ns, "schedule": name}
        written = self.apiserver.write_status(raw, d.status.to_wire())
        if written is not None and self.metrics is not None:
            self.metrics.schedule_written(raw.get("status") or {}, d.status.missed_runs, d.status.skipped_runs)
        current = written if written is not None else raw
        current.setdefault("kind", "TaskSchedule")
        version = str(current["metadata"].get("resourceVersion"))
        with self._guard:
            if _version(current) >= _version(rec.body or current):
                rec.body = current
            rec.decided = version
            hand_over = self.mirror is not None and rec.mirrored != version
            rec.mirrored = version
        if hand_over and self.mirror is not None:  # the schedule's row in SQL: spec essentials and counters
            self.mirror.submit_schedule(current)
        for task in d.delete:  # only after the status write: the mark written covers them
            if self.apiserver.delete_task(ns, task):
                log.info("deleted run Task %s (history limit; kept in SQL)", task, extra=ctx)
        for ev in d.events:
            self.apiserver.post_event(current, ev)
        if d.wake_at is not None and self.requeue is not None:
            self.requeue(d.wake_at, ns, name)
