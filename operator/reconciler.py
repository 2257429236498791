"""One Task's reconcile: read what exists, let `kubetask.reconcile.decide` choose, perform the decision.

This is the operator's only path to a Task's status and Jobs: kopf's handlers, the wake-ups, the
start-up resync and the recovery sweep all call `Reconciler.reconcile`. It holds the Task's lock,
reads (or trusts the body it was handed, when that is fresh enough), decides, and performs: create
or delete Jobs, write the status once, then post the Events. Performing reports only what
happened; every status change was already made by `decide()`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.orm import Session

from kubetask import conditions as c
from kubetask.jobs import build_job
from kubetask.kubeapi import Body
from kubetask.large_results import DEFAULT_MAX_BYTES, Verdict
from kubetask.models import FINAL_PHASES, Phase, Task, TaskStatus, TaskTemplateSpec
from kubetask.observe import JobObservation
from kubetask.reconcile import Decision, Event, Observed, decide, is_final, wants_verdict
from kubetask.run_index import RunIndex
from kubetask.scheduling import owner_schedule
from kubetask.store.results import verdict
from kubetask.timeutil import parse_time

from .kube import Apiserver, JobCreate
from .memory import TaskMemory, TaskRecord
from .metrics import OperatorMetrics
from .mirror import Mirror

log = logging.getLogger("kubetask.operator")
NOT_OURS_RETRY = timedelta(seconds=3)  # a Job of an earlier Task of this name: look again when it may be gone
MIRROR_WAIT = timedelta(seconds=2)  # a TTL that passed before the Task's final state reached SQL


def _version(raw: Body) -> str:
    return str(raw["metadata"].get("resourceVersion", ""))


class Reconciler:
    """Reconciles Tasks on one process's apiserver connection and memory."""

    def __init__(
        self,
        apiserver: Apiserver,
        mirror: Mirror | None = None,
        *,
        leading: threading.Event | None = None,
        requeue: Callable[[datetime, str, str], None] | None = None,
    ) -> None:
        self.apiserver = apiserver
        self.mirror = mirror
        self.leading = leading  # None: always act (single replica, no election)
        self.requeue = requeue
        self.memory = TaskMemory()
        self.runs = RunIndex()  # every schedule's run Tasks, for the schedule controller's passes
        # called with (namespace, schedule) when a run Task of a TaskSchedule reaches a final phase
        self.on_run_finished: Callable[[str, str], None] | None = None
        self.keep_logs = False  # Jobs' pods carry the log finalizer (set when a LogKeeper runs)
        self.result_max_bytes = DEFAULT_MAX_BYTES  # the largest result read from a pod's log (with keep_logs)
        self.metrics: OperatorMetrics | None = None

    def acting(self) -> bool:
        """Whether this replica acts now (it leads, or there is no election)."""
        return self.leading is None or self.leading.is_set()

    def reconcile(
        self, ns: str, name: str, body: Body | None = None, jobs: dict[int, JobObservation] | None = None
    ) -> None:
        """Bring one Task's status and Jobs in line with what is observed; safe to repeat.

        `body` is the Task as a watch event or a listing delivered it. It is used instead of a fresh
        read only for a Task this process never wrote a status for (its first event, typically just
        created, or every Task right after a restart) or when it is our own last write, where it cannot
        be older than anything we know; otherwise the Task is read again. `jobs` (from `observe_all_jobs`,
        listed after `body`) stand in for the per-Task reads, and only together with that body.
        """
        if not self.acting():
            return
        started, result = time.monotonic(), "error"
        try:
            result = self._reconcile_locked(ns, name, body, jobs)
        finally:
            if self.metrics is not None:
                self.metrics.reconciled(result, time.monotonic() - started)

    def _reconcile_locked(self, ns: str, name: str, body: Body | None, jobs: dict[int, JobObservation] | None) -> str:
        rec = self.memory.record(ns, name)
        with rec.lock:
            ours = self.memory.written(rec)
            # a body is as new as anything we know when we never wrote this Task, or it is our last write
            fresh_enough = body is not None and ours in (None, _version(body))
            raw = body if fresh_enough else self.apiserver.get_task(ns, name)
            if raw is None:
                return "skipped"
            if not raw["metadata"].get("deletionTimestamp"):
                raw = self._reconcile(rec, raw, jobs if raw is body else None)
            self.memory.note_decided(rec, _version(raw))
            if self.mirror is not None:
                self.mirror.submit(raw)
            if self.metrics is not None:
                self.metrics.seen(raw)
            return "ok"

    # -- holding Task events during a full resync ------------------------------------------------

    def hold(self) -> None:
        """Hold Task events (keep the newest body per Task) while a full resync runs: it lists every
        Task itself, so handling kopf's re-listed copies too would decide each Task twice."""
        self.memory.hold()

    def held(self, ns: str, name: str, body: Body) -> bool:
        """Keep `body` for after the resync; False when events are not being held."""
        return self.memory.held(ns, name, body)

    def release(self) -> int:
        """Stop holding; reconcile each held Task whose version the resync did not decide on."""
        n = 0
        for (ns, name), body in self.memory.stop_holding().items():
            if not self.memory.superseded(ns, name, _version(body)):
                try:
                    self.reconcile(ns, name, body)
                except Exception:  # one Task's failure must not drop the others' held events
                    log.exception("reconcile of held %s/%s failed; trying again shortly", ns, name)
                    if self.requeue is not None:
                        self.requeue(datetime.now(UTC) + NOT_OURS_RETRY, ns, name)
                n += 1
        return n

    # -- read, decide, perform -------------------------------------------------------------------

    def template(self, ns: str, name: str) -> TaskTemplateSpec | None:
        """The TaskTemplate's spec, from the cache kept by template events, else read; None when missing."""
        cached = self.memory.cached_template(ns, name)
        return cached if cached is not None else self.apiserver.get_template(ns, name)

    def _reconcile(self, rec: TaskRecord, raw: Body, jobs: dict[int, JobObservation] | None) -> Body:
        """Read, decide and perform once; returns the Task as it is afterwards."""
        meta = raw["metadata"]
        ns, name = meta["namespace"], meta["name"]
        now = datetime.now(UTC).replace(microsecond=0)  # Kubernetes timestamps have 1 s resolution
        try:
            task = Task.model_validate(raw)
        except ValidationError as e:
            return self._invalid(rec, raw, str(e).replace("\n", " "), now)
        final = task.status is not None and is_final(task.status.phase)
        ref = task.spec.template_ref.name if task.spec.template_ref else None
        template = self.template(ns, ref) if ref is not None and not final else None
        missing = ref is not None and not final and template is None
        self.memory.note_waiting(rec, ref, missing=missing)
        observed_jobs = self._jobs_to_observe(task, final) if jobs is None or final else jobs
        obs = Observed(
            task=task,
            generation=int(meta.get("generation", 1)),
            template=template,
            template_missing=missing,
            jobs=observed_jobs,
            now=now,
            created=parse_time(meta.get("creationTimestamp")),
            results=self._verdicts(task, observed_jobs, now) if not final else {},
            results_kept=self.keep_logs,
        )
        d = decide(obs)
        if d.requeue_at is not None and self.requeue is not None:
            self.requeue(d.requeue_at, ns, name)
        if d.expire:
            self._expire(raw)
            return raw
        status = d.status
        if d.create_attempt is not None and not self._create_job(raw, task, d, now):
            return raw
        for job in d.delete_jobs:
            self.apiserver.delete_job(ns, job)
        return self._write(rec, raw, status, d.events)

    def _verdicts(self, task: Task, jobs: dict[int, JobObservation], now: datetime) -> dict[int, Verdict]:
        """The verdict kept in SQL on the latest attempt's large result, when its Job says it may have one
        (exit 0 with a result framed in the log, or complete with its pod gone): one SQL read then, none
        otherwise. A database that does not answer fails the reconcile (tried again later): an attempt is
        never judged without the verdict."""
        if self.mirror is None or not jobs:
            return {}
        number = max(jobs)
        if not wants_verdict(jobs[number], now):
            return {}
        with Session(self.mirror.engine) as s:
            found = verdict(s, str(task.metadata.get("uid", "")), number)
        return {number: found} if found is not None else {}

    def _create_job(self, raw: Body, task: Task, d: Decision, now: datetime) -> bool:
        """Create the decided attempt's Job; False when a Job of another Task is in the way or the
        namespace is being deleted."""
        assert d.create_attempt is not None and d.resolved is not None
        meta = raw["metadata"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        ctx = {"namespace": ns, "task": name, "uid": uid}
        params = task.spec.params if task.spec.params is not None else {}
        labels = meta.get("labels") or {}
        body = build_job(
            d.resolved,
            task=name,
            namespace=ns,
            task_uid=uid,
            attempt=d.create_attempt,
            params=params,
            labels=labels,
            keep_log=self.keep_logs,
            result_max_bytes=self.result_max_bytes if self.keep_logs else 0,
        )
        job = body["metadata"]["name"]
        created = self.apiserver.create_job(ns, body, uid)
        if created is JobCreate.NOT_OURS:
            # a Job of an earlier Task with the same name, not yet garbage-collected: wait for it
            log.info("Job %s belongs to an earlier Task of this name; waiting for it to go", job, extra=ctx)
            if self.requeue is not None:
                self.requeue(now + NOT_OURS_RETRY, ns, name)
            return False
        if created is JobCreate.NAMESPACE_TERMINATING:
            # the Task goes with its namespace; its deletion event follows and needs nothing from us
            log.info("namespace %s is being deleted; no Job %s is created", ns, job, extra=ctx)
            return False
        if created is JobCreate.ADOPTED:
            log.info("Job %s already exists: adopting it", job, extra=ctx)
        else:
            log.info("created Job %s", job, extra=ctx)
            if self.metrics is not None:
                self.metrics.job_created(raw, d.create_attempt, datetime.now(UTC))
        return True

    def _jobs_to_observe(self, task: Task, final: bool) -> dict[int, JobObservation]:
        """A final task needs no Jobs; one without attempts can only have attempt 1's Job, and creating
        that Job again answers 409 and adopts it, so the list is skipped too (two fewer calls per task)."""
        if final or (not (task.status and task.status.attempts) and not task.spec.cancel):
            return {}
        latest = max((a.number for a in task.status.attempts), default=None) if task.status else None
        return self.apiserver.observe_jobs(task.metadata["namespace"], task.metadata["uid"], latest)

    def _expire(self, raw: Body) -> None:
        """Delete a finished Task whose TTL passed, but only once its final state is in SQL."""
        meta = raw["metadata"]
        ns, name = meta["namespace"], meta["name"]
        if self.mirror is not None and not self.mirror.mirrored(meta["uid"], _version(raw)):
            self.mirror.submit(raw)
            if self.requeue is not None:
                self.requeue(datetime.now(UTC) + MIRROR_WAIT, ns, name)
            return
        if self.apiserver.delete_task(ns, name):
            ctx = {"namespace": ns, "task": name, "uid": meta["uid"]}
            log.info("deleted finished Task after its TTL (history kept in SQL)", extra=ctx)

    def _invalid(self, rec: TaskRecord, raw: Body, message: str, now: datetime) -> Body:
        msg = f"spec is invalid: {message}"[:1000]
        status = TaskStatus(phase=Phase.FAILED, reason=c.REASON_INVALID_SPEC, message=msg, completion_time=now)
        return self._write(rec, raw, status, (Event("Warning", c.REASON_INVALID_SPEC, status.message or ""),))

    def _write(self, rec: TaskRecord, raw: Body, status: TaskStatus, events: tuple[Event, ...]) -> Body:
        """Write the status once, then post the Events (only after the write succeeded)."""
        written = self.apiserver.write_status(raw, status.to_wire())
        if written is None:
            return raw
        self.memory.note_written(rec, _version(written))
        if self.metrics is not None:
            self.metrics.written(raw, written)
        for ev in events:
            self.apiserver.post_event(raw, ev)
        schedule = owner_schedule(raw)
        if schedule is not None:
            self.runs.seen(written)
        was_final = (raw.get("status") or {}).get("phase") in FINAL_PHASES
        if schedule is not None and is_final(status.phase) and not was_final and self.on_run_finished is not None:
            self.on_run_finished(raw["metadata"]["namespace"], schedule)
        return written
