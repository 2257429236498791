"""kopf handlers: every event about a Task, its Jobs, its pods or its template leads to one
`Kube.reconcile(namespace, task)`; all state is re-derived each time, so missed or repeated
events are harmless and an operator restart (kopf lists everything on start) repairs all tasks.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from kubetask.labels import ANNOTATION_TASK, LABEL_TASK_UID
from kubetask.models import GROUP, VERSION
from kubetask.relevance import job_event_matters, pod_event_matters

from .kube import Kube
from .settings import OperatorSettings

log = logging.getLogger("kubetask.operator")
_state: dict[str, Any] = {}


def configure(kube: Kube, settings: OperatorSettings) -> None:
    """Hand the handlers their adapter and settings (called once before kopf starts)."""
    _state["kube"] = kube
    _state["settings"] = settings


def _kube() -> Kube:
    kube: Kube = _state["kube"]
    return kube


class EventsOnlyDiffBase(kopf.DiffBaseStorage):
    """Keeps no "essence": kubetask has only on-event handlers, which never look at kopf's diffs.

    kopf computes a diff between a stored essence and the current one for every event, even when
    no handler uses it; building it deep-copies the event's body twice. That was about a seventh of
    the operator's CPU while dispatching. Installed only while no create/update/delete handler or
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


@kopf.on.startup()
def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    ours: OperatorSettings = _state["settings"]
    if events_only(kopf.get_default_registry()):
        settings.persistence.diffbase_storage = EventsOnlyDiffBase()
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.execution.max_workers = ours.workers
    settings.persistence.finalizer = "kubetask.io/operator"
    settings.peering.standalone = ours.standalone


def _not_decided(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> bool:
    """False for a Task version already decided on, typically the echo of our own status write
    (skipped in kopf's event loop, without a worker thread)."""
    if event.get("type") == "DELETED":
        return True
    meta = body.get("metadata", {})
    return not _kube().decided(meta.get("namespace", ""), meta.get("name", ""), str(meta.get("resourceVersion", "")))


@kopf.on.event(GROUP, VERSION, "tasks", when=_not_decided)
def task_event(event: kopf.RawEvent, body: kopf.Body, name: str, namespace: str | None, uid: str, **_: Any) -> None:
    assert namespace is not None  # Tasks are namespaced
    if event.get("type") == "DELETED":
        _kube().forget(namespace, name)
        mirror = _kube().mirror
        if mirror is not None:
            mirror.deleted(uid)
        return
    if _kube().held(namespace, name, dict(body)):
        return  # a full resync is running: it handles this Task, the newest held body comes after
    _kube().reconcile(namespace, name, dict(body))


def _owner(body: kopf.Body) -> str | None:
    return body.metadata.annotations.get(ANNOTATION_TASK)


def _job_matters(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> bool:
    return job_event_matters(event.get("type"), body)


def _pod_matters(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> bool:
    return pod_event_matters(event.get("type"), body)


# The `when` filters run in kopf's event loop, so skipped events never cost a worker thread.
@kopf.on.event("batch", "v1", "jobs", labels={LABEL_TASK_UID: kopf.PRESENT}, when=_job_matters)
def job_event(body: kopf.Body, namespace: str | None, **_: Any) -> None:
    task = _owner(body)
    if task and namespace:
        _kube().reconcile(namespace, task)


@kopf.on.event("", "v1", "pods", labels={LABEL_TASK_UID: kopf.PRESENT}, when=_pod_matters)
def pod_event(body: kopf.Body, namespace: str | None, **_: Any) -> None:
    task = _owner(body)
    if task and namespace:
        _kube().reconcile(namespace, task)


@kopf.on.event(GROUP, VERSION, "tasktemplates")
def template_event(event: kopf.RawEvent, body: kopf.Body, name: str, namespace: str | None, **_: Any) -> None:
    if namespace is None:
        return
    if event.get("type") == "DELETED":
        _kube().cache_template(namespace, name, None)
        return
    _kube().cache_template(namespace, name, dict(body))
    for task in _kube().tasks_using_template(namespace, name):
        _kube().reconcile(namespace, task)
