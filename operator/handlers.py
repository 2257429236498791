"""kopf handlers: every event about a Task, its Jobs, its pods or its template leads to one
`Reconciler.reconcile(namespace, task)`; all state is re-derived each time, so missed or repeated
events are harmless. After a restart the start-up resync (operator/main.py) repairs every Task
from one listing, while kopf's own re-listed Task events are held (`Reconciler.hold`).

The handlers reach the reconciler through kopf's own `memo` (`kopf.run(memo=OperatorMemo(...))`):
kopf hands every handler and `when` filter a shallow copy of it, so all copies share the one
reconciler, and nothing here is a module global.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import kopf

from kubetask.labels import ANNOTATION_TASK, LABEL_TASK_UID
from kubetask.models import FINAL_PHASES, GROUP, VERSION
from kubetask.relevance import job_event_matters, pod_event_matters
from kubetask.scheduling import owner_schedule

from .logs import LogKeeper, has_log_finalizer
from .reconciler import Reconciler
from .schedules import ScheduleController
from .settings import OperatorSettings

log = logging.getLogger("kubetask.operator")


@dataclass
class OperatorMemo:
    """What every handler gets as `memo`."""

    reconciler: Reconciler
    settings: OperatorSettings
    schedules: ScheduleController
    logs: LogKeeper | None = None


class EventsOnlyDiffBase(kopf.DiffBaseStorage):
    """Keeps no "essence": kubetask has only on-event handlers, which never look at kopf's diffs.

    kopf computes a diff between a stored essence and the current one for every event, even when
    no handler uses it; building it deep-copies the event's body twice, a visible share of the
    operator's CPU while dispatching. Installed only while no create/update/delete handler or
    daemon is registered (see `startup`), so a future one gets kopf's default storage back.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:  # noqa: ARG002
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:  # noqa: ARG002
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:  # noqa: ARG002
        return None


def events_only(registry: kopf.OperatorRegistry) -> bool:
    """Whether every resource handler is an on-event handler (no change handlers, daemons or timers)."""
    return not registry._changing.get_all_handlers() and not registry._spawning.get_all_handlers()


# Jobs and pods are watched filtered by the apiserver to those of a Task: every handler of theirs
# below matches only objects with this label anyway, and without the selector kopf would receive,
# decode and drop every other Job and pod of the cluster (a CronJob's, any workload's) in its event
# loop, the thread that also dispatches Tasks (bench/README.md, figure 7).
OWN_OBJECTS_ONLY = {("batch", "v1", "jobs"): LABEL_TASK_UID, ("", "v1", "pods"): LABEL_TASK_UID}


def watch_own_objects_only(settings: kopf.OperatorSettings) -> None:
    """Have kopf's watches of Jobs and pods select `OWN_OBJECTS_ONLY` on the apiserver ("label exists")."""
    for resource, label in OWN_OBJECTS_ONLY.items():
        settings.watching.label_selectors[resource] = label


@kopf.on.startup()
def startup(settings: kopf.OperatorSettings, memo: OperatorMemo, **_: Any) -> None:
    ours = memo.settings
    if events_only(kopf.get_default_registry()):
        settings.persistence.diffbase_storage = EventsOnlyDiffBase()
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    watch_own_objects_only(settings)
    settings.execution.max_workers = ours.workers
    settings.persistence.finalizer = "kubetask.io/operator"
    settings.peering.standalone = ours.standalone


def _not_decided(event: kopf.RawEvent, body: kopf.Body, memo: OperatorMemo, **_: Any) -> bool:
    """False for a Task version already decided on, typically the echo of our own status write
    (skipped in kopf's event loop, without a worker thread). Every event of a run Task, echoes too,
    goes to the schedules' run index first."""
    runs = memo.reconciler.runs
    if event.get("type") == "DELETED":
        runs.gone(dict(body))
        return True
    if owner_schedule(dict(body)) is not None:
        runs.seen(dict(body))
    meta = body.get("metadata", {})
    ns, name, version = meta.get("namespace", ""), meta.get("name", ""), str(meta.get("resourceVersion", ""))
    return not memo.reconciler.memory.decided(ns, name, version)


@kopf.on.event(GROUP, VERSION, "tasks", when=_not_decided)
def task_event(
    event: kopf.RawEvent, body: kopf.Body, name: str, namespace: str | None, uid: str, memo: OperatorMemo, **_: Any
) -> None:
    assert namespace is not None  # Tasks are namespaced
    reconciler = memo.reconciler
    if event.get("type") == "DELETED":
        reconciler.memory.forget(namespace, name)
        if reconciler.metrics is not None:
            reconciler.metrics.forget(namespace, name)
        if reconciler.mirror is not None:
            reconciler.mirror.deleted(uid)
        schedule = owner_schedule(dict(body))
        if schedule is not None and (body.get("status") or {}).get("phase") not in FINAL_PHASES:
            memo.schedules.run_changed(namespace, schedule)  # an active run went: active[] and Queue change
        return
    if reconciler.held(namespace, name, dict(body)):
        return  # a full resync is running: it handles this Task, the newest held body comes after
    reconciler.reconcile(namespace, name, dict(body))


def _owner(body: kopf.Body) -> str | None:
    return body.metadata.annotations.get(ANNOTATION_TASK)


def _job_matters(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> bool:
    return job_event_matters(event.get("type"), body)


def _pod_matters(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> bool:
    return pod_event_matters(event.get("type"), body)


# The `when` filters run in kopf's event loop, so skipped events never cost a worker thread.
@kopf.on.event("batch", "v1", "jobs", labels={LABEL_TASK_UID: kopf.PRESENT}, when=_job_matters)
def job_event(body: kopf.Body, namespace: str | None, memo: OperatorMemo, **_: Any) -> None:
    task = _owner(body)
    if task and namespace:
        memo.reconciler.reconcile(namespace, task)


@kopf.on.event("", "v1", "pods", labels={LABEL_TASK_UID: kopf.PRESENT}, when=_pod_matters)
def pod_event(body: kopf.Body, namespace: str | None, memo: OperatorMemo, **_: Any) -> None:
    task = _owner(body)
    if task and namespace:
        memo.reconciler.reconcile(namespace, task)


def _log_to_keep(event: kopf.RawEvent, body: kopf.Body, memo: OperatorMemo, **_: Any) -> bool:
    return memo.logs is not None and event.get("type") != "DELETED" and has_log_finalizer(dict(body))


@kopf.on.event("", "v1", "pods", labels={LABEL_TASK_UID: kopf.PRESENT}, when=_log_to_keep)
def pod_log_event(body: kopf.Body, memo: OperatorMemo, **_: Any) -> None:
    """A pod holding our log finalizer: its log is kept once its container ended (whatever deletes it)."""
    if memo.logs is not None and memo.reconciler.acting():
        memo.logs.offer(dict(body))


@kopf.on.event(GROUP, VERSION, "tasktemplates")
def template_event(
    event: kopf.RawEvent, body: kopf.Body, name: str, namespace: str | None, memo: OperatorMemo, **_: Any
) -> None:
    if namespace is None:
        return
    memory = memo.reconciler.memory
    memory.cache_template(namespace, name, None if event.get("type") == "DELETED" else dict(body))
    memo.schedules.template_changed(namespace, name)
    if event.get("type") == "DELETED":
        return
    for task in memory.tasks_using_template(namespace, name):
        memo.reconciler.reconcile(namespace, task)


def _schedule_news(event: kopf.RawEvent, body: kopf.Body, memo: OperatorMemo, **_: Any) -> bool:
    """False for a TaskSchedule version a pass already ran on, typically the echo of our own status write."""
    if event.get("type") == "DELETED":
        return True
    return memo.schedules.observe({**dict(body), "kind": "TaskSchedule"})


@kopf.on.event(GROUP, VERSION, "taskschedules", when=_schedule_news)
def schedule_event(
    event: kopf.RawEvent, name: str, namespace: str | None, uid: str, memo: OperatorMemo, **_: Any
) -> None:
    assert namespace is not None  # TaskSchedules are namespaced
    if event.get("type") == "DELETED":
        memo.schedules.forget(namespace, name, uid)  # its run Tasks go with it (owner references)
        return
    memo.schedules.reconcile(namespace, name)
