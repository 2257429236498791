"""Thin Kubernetes adapter: read a Task's world into plain observations, perform a Decision.

All decisions are made by `kubetask.reconcile.decide`; this module only reads and writes. Reads go
to the apiserver directly (quorum reads, no cache), so a reconcile after a restart sees exactly
what exists, and Job creation is guarded by the deterministic Job name (409 = already there).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kubetask import conditions as c
from kubetask.jobs import build_job
from kubetask.kubeapi import Body, JsonApi, resource_path
from kubetask.labels import (
    ANNOTATION_RESULT_SCHEMA,
    ANNOTATION_TIMEOUT,
    LABEL_ATTEMPT,
    LABEL_TASK_UID,
)
from kubetask.models import GROUP, VERSION, Phase, Task, TaskStatus, TaskTemplate, TaskTemplateSpec
from kubetask.observe import ContainerExit, JobObservation, PodObservation
from kubetask.reconcile import Event, Observed, decide, is_final, record_attempt
from kubetask.timeutil import parse_time

from .events import EventRecorder, event_body
from .mirror import Mirror

log = logging.getLogger("kubetask.operator")


def pod_observation(pod: Body) -> PodObservation:
    """Read a Pod (as JSON) into a PodObservation (the main container's state)."""
    meta, st = pod["metadata"], pod.get("status") or {}
    cs = next((s for s in st.get("containerStatuses") or [] if s.get("name") == "main"), None)
    state = (cs or {}).get("state") or {}
    waiting, running, term = state.get("waiting"), state.get("running"), state.get("terminated")
    return PodObservation(
        name=meta["name"],
        phase=st.get("phase") or "Pending",
        created=parse_time(meta.get("creationTimestamp")),
        reason=st.get("reason"),
        message=st.get("message"),
        waiting_reason=waiting.get("reason") if waiting else None,
        waiting_message=waiting.get("message") if waiting else None,
        running_since=parse_time(running.get("startedAt")) if running else None,
        terminated=ContainerExit(
            exit_code=int(term.get("exitCode", 0)),
            reason=term.get("reason"),
            message=term.get("message"),
            started_at=parse_time(term.get("startedAt")),
            finished_at=parse_time(term.get("finishedAt")),
        )
        if term
        else None,
        deleting=meta.get("deletionTimestamp") is not None,
        unschedulable=next(
            (
                x.get("message") or x.get("reason")
                for x in st.get("conditions") or []
                if x.get("type") == "PodScheduled" and x.get("status") == "False" and x.get("reason") == "Unschedulable"
            ),
            None,
        ),
    )


def job_observation(job: Body, pods: list[PodObservation]) -> JobObservation:
    """Read a Job (as JSON) and its pods into a JobObservation."""
    meta = job["metadata"]
    ann = meta.get("annotations") or {}
    conds = (job.get("status") or {}).get("conditions") or []
    failed = next((x for x in conds if x.get("type") == "Failed" and x.get("status") == "True"), None)
    complete = any(x.get("type") == "Complete" and x.get("status") == "True" for x in conds)
    schema = ann.get(ANNOTATION_RESULT_SCHEMA)
    timeout = ann.get(ANNOTATION_TIMEOUT)
    return JobObservation(
        name=meta["name"],
        attempt=int((meta.get("labels") or {}).get(LABEL_ATTEMPT, "1")),
        created=parse_time(meta.get("creationTimestamp")),
        complete=complete,
        failed_reason=failed.get("reason") if failed else None,
        failed_message=failed.get("message") if failed else None,
        result_schema=json.loads(schema) if schema else None,
        timeout_seconds=int(timeout) if timeout else None,
        pods=tuple(pods),
    )


def _observations(jobs: list[Body], pods: list[Body]) -> dict[str, dict[int, JobObservation]]:
    """Jobs (and their pods) by Task uid and attempt; Jobs being deleted are left out."""
    by_job: dict[tuple[str, str], list[PodObservation]] = {}
    for p in pods:
        meta = p["metadata"]
        key = (meta.get("namespace", ""), (meta.get("labels") or {}).get("job-name", ""))
        by_job.setdefault(key, []).append(pod_observation(p))
    out: dict[str, dict[int, JobObservation]] = {}
    for j in jobs:
        meta = j["metadata"]
        if meta.get("deletionTimestamp") is not None:
            continue
        obs = job_observation(j, by_job.get((meta.get("namespace", ""), meta["name"]), []))
        out.setdefault((meta.get("labels") or {}).get(LABEL_TASK_UID, ""), {})[obs.attempt] = obs
    return out


def task_path(ns: str, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path(GROUP, VERSION, "tasks", ns, name, subresource)


def job_path(ns: str, name: str | None = None) -> str:
    return resource_path("batch", "v1", "jobs", ns, name)


def _status_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch from `old` to `new` status: removed keys become null."""
    patch: dict[str, Any] = dict(new)
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


class Kube:
    """Reads and writes of one operator process; one lock per Task serialises its reconciles."""

    def __init__(
        self,
        api: client.ApiClient,
        mirror: Mirror | None = None,
        *,
        leading: threading.Event | None = None,
        requeue: Callable[[datetime, str, str], None] | None = None,
    ) -> None:
        self.mirror = mirror
        self.leading = leading  # None: always act (single replica, no election)
        self.requeue = requeue
        self.json = JsonApi(api)
        self.events = EventRecorder(self.json)
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self._written: dict[tuple[str, str], str] = {}  # resourceVersion of our last status write per Task
        self._decided: dict[tuple[str, str], str] = {}  # resourceVersion of the last Task version decided on
        self._held: dict[tuple[str, str], Body] | None = None  # Task events held during a full resync
        self._waiting: dict[tuple[str, str], set[str]] = {}  # (namespace, template) -> Tasks waiting for it
        self._templates: dict[tuple[str, str], TaskTemplateSpec] = {}  # kept current by template events
        # writes made so far ("status", "job-create", "job-delete"): the recovery sweep reports what it changed
        self.writes: Counter[str] = Counter()

    def _lock(self, ns: str, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((ns, name), threading.Lock())

    def forget(self, ns: str, name: str) -> None:
        with self._guard:
            self._locks.pop((ns, name), None)
            self._written.pop((ns, name), None)
            self._decided.pop((ns, name), None)
            if self._held is not None:
                self._held.pop((ns, name), None)
            for key in [k for k, names in self._waiting.items() if k[0] == ns and name in names]:
                self._waiting[key].discard(name)
                if not self._waiting[key]:
                    del self._waiting[key]

    def decided(self, ns: str, name: str, resource_version: str) -> bool:
        """Whether this Task version was already decided on (typically: the echo of our own status write,
        or a re-listed Task the startup resync just handled). Changes of its Jobs and pods and timed
        wake-ups reconcile on their own, so a Task event for this version has nothing new to tell."""
        with self._guard:
            return self._decided.get((ns, name)) == resource_version

    def hold(self) -> None:
        """Hold Task events (keep the newest body per Task) while a full resync runs: it lists every
        Task itself, so handling kopf's re-listed copies too would decide each Task twice."""
        with self._guard:
            if self._held is None:
                self._held = {}

    def held(self, ns: str, name: str, body: Body) -> bool:
        """Keep `body` for after the resync; False when events are not being held."""
        with self._guard:
            if self._held is None:
                return False
            self._held[(ns, name)] = body
            return True

    def release(self) -> int:
        """Stop holding; reconcile each held Task whose version the resync did not decide on."""
        with self._guard:
            held, self._held = self._held or {}, None
        n = 0
        for (ns, name), body in held.items():
            if not self._superseded(ns, name, str(body["metadata"].get("resourceVersion", ""))):
                self.reconcile(ns, name, body)
                n += 1
        return n

    def _superseded(self, ns: str, name: str, resource_version: str) -> bool:
        """Whether a version at least this new was decided on (etcd revisions: integers in practice;
        anything else only counts when equal)."""
        with self._guard:
            done = self._decided.get((ns, name))
        if done is None:
            return False
        if done.isdigit() and resource_version.isdigit():
            return int(resource_version) <= int(done)
        return done == resource_version

    def cache_template(self, ns: str, name: str, body: dict[str, Any] | None) -> None:
        """Keep the template cache current (None: deleted)."""
        with self._guard:
            if body is None:
                self._templates.pop((ns, name), None)
                return
        spec = TaskTemplate.model_validate(body).spec
        with self._guard:
            self._templates[(ns, name)] = spec

    # -- reads -------------------------------------------------------------------------------

    def get_task(self, ns: str, name: str) -> Body | None:
        return self.json.get(task_path(ns, name))

    def get_template(self, ns: str, name: str) -> TaskTemplateSpec | None:
        with self._guard:
            cached = self._templates.get((ns, name))
        if cached is not None:
            return cached
        body = self.json.get(resource_path(GROUP, VERSION, "tasktemplates", ns, name))
        return TaskTemplate.model_validate(body).spec if body is not None else None

    def observe_jobs(self, ns: str, uid: str, latest: int | None = None) -> dict[int, JobObservation]:
        """One Task's Jobs and their pods (`latest`: the Task's newest attempt number).

        Read from the apiserver's watch cache: a quorum LIST reads and decodes every Job or pod of
        the namespace from etcd, and finishing 1000 Tasks at once in one namespace took a minute that
        way (bench, figure 2). The cache may trail etcd by a moment, so when what it shows would decide
        by absence (the newest attempt's Job missing means PodLost; a Job without its pod), the reads
        are repeated against etcd before anything is decided.
        """
        obs = self._read_jobs(ns, uid, cached=True)
        newest = obs.get(latest) if latest is not None else None
        if latest is not None and (newest is None or not newest.pods):
            obs = self._read_jobs(ns, uid, cached=False)
        return obs

    def _read_jobs(self, ns: str, uid: str, *, cached: bool) -> dict[int, JobObservation]:
        selector = f"{LABEL_TASK_UID}={uid}"
        jobs = self.json.list(job_path(ns), selector, cached=cached)
        if not jobs:
            return {}
        pods = self.json.list(resource_path("", "v1", "pods", ns), selector, cached=cached)
        return _observations(jobs, pods).get(uid, {})

    def observe_all_jobs(self) -> dict[str, dict[int, JobObservation]]:
        """Every Task's Jobs and pods by Task uid, in two cluster-wide LISTs (Jobs first, then pods).

        For a full resync: call it right after listing the Tasks, so no Job or pod can be older than
        the Task it is decided with (the same order the per-Task reads follow)."""
        jobs = self.json.list(resource_path("batch", "v1", "jobs"), LABEL_TASK_UID)
        pods = self.json.list(resource_path("", "v1", "pods"), LABEL_TASK_UID)
        return _observations(jobs, pods)

    def tasks_using_template(self, ns: str, template: str) -> list[str]:
        """Tasks this process last saw waiting for `template` to exist (TemplateNotFound).

        Kept in memory instead of listing every Task of the namespace on each template event (a LIST of
        10 000 Tasks per template at every start-up); after a restart the start-up resync re-derives it."""
        with self._guard:
            return sorted(self._waiting.get((ns, template), ()))

    def _note_waiting(self, ns: str, name: str, template: str | None, missing: bool) -> None:
        with self._guard:
            if missing and template is not None:
                self._waiting.setdefault((ns, template), set()).add(name)
            elif template is not None and (ns, template) in self._waiting:
                self._waiting[(ns, template)].discard(name)
                if not self._waiting[(ns, template)]:
                    del self._waiting[(ns, template)]

    # -- the reconcile -------------------------------------------------------------------------

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
        if self.leading is not None and not self.leading.is_set():
            return
        with self._lock(ns, name):
            with self._guard:
                ours = self._written.get((ns, name))
            # a body is as new as anything we know when we never wrote this Task, or it is our last write
            fresh_enough = body is not None and ours in (None, str(body["metadata"].get("resourceVersion", "")))
            raw = body if fresh_enough else self.get_task(ns, name)
            if raw is None:
                return
            if not raw["metadata"].get("deletionTimestamp"):
                raw = self._reconcile(raw, jobs if raw is body else None)
            with self._guard:
                self._decided[(ns, name)] = str(raw["metadata"].get("resourceVersion", ""))
            if self.mirror is not None:
                self.mirror.submit(raw)

    def _reconcile(self, raw: Body, jobs: dict[int, JobObservation] | None = None) -> Body:
        """Perform one decision; returns the Task as it is afterwards."""
        meta = raw["metadata"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        now = datetime.now(UTC).replace(microsecond=0)  # Kubernetes timestamps have 1 s resolution
        ctx = {"namespace": ns, "task": name, "uid": uid}
        try:
            task = Task.model_validate(raw)
        except ValidationError as e:
            return self._invalid(raw, str(e).replace("\n", " "), now)
        final = task.status is not None and is_final(task.status.phase)
        template: TaskTemplateSpec | None = None
        missing = False
        if task.spec.template_ref is not None and not final:
            template = self.get_template(ns, task.spec.template_ref.name)
            missing = template is None
        self._note_waiting(ns, name, task.spec.template_ref.name if task.spec.template_ref else None, missing)
        obs = Observed(
            task=task,
            generation=int(meta.get("generation", 1)),
            template=template,
            template_missing=missing,
            jobs=self._jobs_to_observe(task, final) if jobs is None or final else jobs,
            now=now,
            created=parse_time(meta.get("creationTimestamp")),
        )
        d = decide(obs)
        if d.requeue_at is not None and self.requeue is not None:
            self.requeue(d.requeue_at, ns, name)
        if d.expire:
            self._expire(raw)
            return raw
        events = list(d.events)
        status = d.status
        if d.create_attempt is not None and d.resolved is not None:
            body = build_job(
                d.resolved,
                task=name,
                namespace=ns,
                task_uid=uid,
                attempt=d.create_attempt,
                params=task.spec.params if task.spec.params is not None else {},
                labels=meta.get("labels") or {},
            )
            job = body["metadata"]["name"]
            try:
                self.json.create(job_path(ns), body, decode=False)
                self._count("job-create")
                log.info("created Job %s", job, extra=ctx)
            except ApiException as e:
                if e.status != 409:
                    raise
                existing = self.json.get(job_path(ns, job)) or {"metadata": {}}
                if (existing["metadata"].get("labels") or {}).get(LABEL_TASK_UID) != uid:
                    # a Job of an earlier Task with the same name, not yet garbage-collected: wait for it
                    log.info("Job %s belongs to an earlier Task of this name; waiting for it to go", job, extra=ctx)
                    if self.requeue is not None:
                        self.requeue(now + timedelta(seconds=3), ns, name)
                    return raw
                log.info("Job %s already exists: adopting it", job, extra=ctx)
            status = record_attempt(status, number=d.create_attempt, job=job, now=now, gen=obs.generation)
            events.append(Event("Normal", c.REASON_JOB_CREATED, f"Created Job {job} for attempt {d.create_attempt}"))
        for job in d.delete_jobs:
            self._delete_job(ns, job)
        written = self._write_status(raw, status)
        if written is None:
            return raw
        for ev in events:
            self.post_event(raw, ev)
        return written

    def _jobs_to_observe(self, task: Task, final: bool) -> dict[int, JobObservation]:
        """A final task needs no Jobs; one without attempts can only have attempt 1's Job, and creating
        that Job again answers 409 and adopts it, so the list is skipped too (two fewer calls per task)."""
        if final or (not (task.status and task.status.attempts) and not task.spec.cancel):
            return {}
        latest = max((a.number for a in task.status.attempts), default=None) if task.status else None
        return self.observe_jobs(task.metadata["namespace"], task.metadata["uid"], latest)

    def _expire(self, raw: dict[str, Any]) -> None:
        """Delete a finished Task whose TTL passed, but only once its final state is in SQL."""
        meta = raw["metadata"]
        if self.mirror is not None and not self.mirror.mirrored(meta["uid"], str(meta.get("resourceVersion", ""))):
            self.mirror.submit(raw)
            if self.requeue is not None:
                self.requeue(datetime.now(UTC) + timedelta(seconds=2), meta["namespace"], meta["name"])
            return
        try:
            self.json.delete(task_path(meta["namespace"], meta["name"]))
            log.info("deleted finished Task after its TTL (history kept in SQL)",
                     extra={"namespace": meta["namespace"], "task": meta["name"], "uid": meta["uid"]})  # fmt: skip
        except ApiException as e:
            if e.status != 404:
                raise

    def _invalid(self, raw: dict[str, Any], message: str, now: datetime) -> dict[str, Any]:
        status = TaskStatus(
            phase=Phase.FAILED,
            reason=c.REASON_INVALID_SPEC,
            message=f"spec is invalid: {message}"[:1000],
            completion_time=now,
        )
        written = self._write_status(raw, status)
        if written is None:
            return raw
        self.post_event(raw, Event("Warning", c.REASON_INVALID_SPEC, status.message or ""))
        return written

    # -- writes --------------------------------------------------------------------------------

    def _write_status(self, raw: dict[str, Any], status: TaskStatus) -> dict[str, Any] | None:
        """Patch the status subresource if it changed; the updated Task, or None when unchanged."""
        old = raw.get("status") or {}
        new = status.to_wire()
        if old == new:
            return None
        meta = raw["metadata"]
        written = self.json.merge_patch(
            task_path(meta["namespace"], meta["name"], "status"), {"status": _status_patch(old, new)}
        )
        with self._guard:
            rv = str(written["metadata"].get("resourceVersion", ""))
            self._written[(meta["namespace"], meta["name"])] = self._decided[(meta["namespace"], meta["name"])] = rv
            self.writes["status"] += 1
        return written

    def _count(self, kind: str) -> None:
        with self._guard:
            self.writes[kind] += 1

    def write_counts(self) -> Counter[str]:
        """A copy of `writes`, taken under the lock reconciles update it with."""
        with self._guard:
            return self.writes.copy()

    def _delete_job(self, ns: str, job: str) -> None:
        try:
            self.json.delete(job_path(ns, job), decode=False)
            self._count("job-delete")
        except ApiException as e:
            if e.status != 404:
                raise

    def post_event(self, raw: dict[str, Any], ev: Event) -> None:
        """Queue a core/v1 Event on the Task (best effort: a lost event never blocks a task)."""
        self.events.record(raw["metadata"]["namespace"], event_body(raw, ev, datetime.now(UTC)))
