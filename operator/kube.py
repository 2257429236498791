"""The operator's reads and writes on the apiserver, and nothing else: no decisions, no memory.

Every call has a timeout (kubetask.kubeapi): `timeout` for the calls about one Task, `list_timeout`
for the cluster-wide listings of a resync or sweep, so a hung apiserver fails a reconcile or a
resync instead of holding its thread forever.

Reads of Tasks go to etcd (quorum reads), so a reconcile after a restart sees exactly what exists;
Job creation is guarded by the deterministic Job name (409 = already there), and `create_job`
reports which of the three outcomes happened instead of acting on it. Every write is counted, so
the recovery sweep can say what it changed.
"""

from __future__ import annotations

import enum
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetask.kubeapi import Body, JsonApi, namespace_terminating, resource_path
from kubetask.labels import LABEL_SCHEDULE, LABEL_TASK_UID
from kubetask.models import GROUP, VERSION, TaskTemplate, TaskTemplateSpec
from kubetask.observe import JobObservation, observations_by_task
from kubetask.reconcile import Event

from .events import EventRecorder, event_body

JSON_PATCH = "application/json-patch+json"
# defaults of KUBETASK_OPERATOR_KUBERNETES_TIMEOUT_SECONDS and _LIST_TIMEOUT_SECONDS (reasons in settings.py)
CALL_TIMEOUT_SECONDS = 30.0
LIST_TIMEOUT_SECONDS = 300.0


def task_path(ns: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path(GROUP, VERSION, "tasks", ns, name, subresource)


def schedule_path(ns: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path(GROUP, VERSION, "taskschedules", ns, name, subresource)


def job_path(ns: str | None = None, name: str | None = None) -> str:
    return resource_path("batch", "v1", "jobs", ns, name)


def pod_path(ns: str | None = None) -> str:
    return resource_path("", "v1", "pods", ns)


def _status_patch(new: dict[str, Any]) -> list[dict[str, Any]]:
    """A JSON Patch (RFC 6902) that makes the status exactly `new`, keys that went away included.

    A merge patch can remove a key only by sending it as null, and Kubernetes APIs omit unset fields
    rather than store null (the CRDs declare no field nullable). One `add` of the whole status
    replaces it: no `remove` that fails when a key is already gone, still one request per write;
    only the operator writes status, so nothing of anyone else's is replaced.
    """
    return [{"op": "add", "path": "/status", "value": new}]


class JobCreate(enum.Enum):
    """What asking for a Job gave: it was made, it was already there (ours: adopt it), a Job of an
    earlier Task of the same name is still there (wait for garbage collection to take it), or the
    namespace is being deleted (nothing new can be made there; the Task goes with it)."""

    CREATED = "created"
    ADOPTED = "adopted"
    NOT_OURS = "not-ours"
    NAMESPACE_TERMINATING = "namespace-terminating"


class Apiserver:
    """One operator process's reads and writes; safe to share between reconciles (threads)."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        timeout: float = CALL_TIMEOUT_SECONDS,
        list_timeout: float = LIST_TIMEOUT_SECONDS,
        namespaces: Sequence[str] = (),
    ) -> None:
        self.json = JsonApi(api, timeout=timeout)
        self.list_timeout = list_timeout
        # the watched namespaces (KUBETASK_OPERATOR_NAMESPACES); empty: the whole cluster
        self.namespaces = tuple(namespaces)
        self.events = EventRecorder(self.json)
        self._guard = threading.Lock()
        # writes made so far ("status", "job-create", "job-delete"): the recovery sweep reports what it changed
        self.writes: Counter[str] = Counter()

    def _count(self, kind: str) -> None:
        with self._guard:
            self.writes[kind] += 1

    def write_counts(self) -> Counter[str]:
        """A copy of `writes`, taken under the lock that updates it."""
        with self._guard:
            return self.writes.copy()

    # -- reads -------------------------------------------------------------------------------

    def _list_all(self, path: Callable[[str | None], str], selector: str | None = None) -> tuple[list[Body], int]:
        """The cluster's objects, or the watched namespaces' (`JsonApi.list_in`), and the version read at."""
        return self.json.list_in(path, self.namespaces, selector, timeout=self.list_timeout)

    def get_task(self, ns: str, name: str) -> Body | None:
        return self.json.get(task_path(ns, name))

    def list_tasks(self) -> list[Body]:
        """Every Task of the cluster (or of the watched namespaces), in one LIST (per namespace)."""
        return self.list_tasks_at()[0]

    def list_tasks_at(self) -> tuple[list[Body], int]:
        """Every Task of the cluster (or of the watched namespaces), and the resourceVersion read at."""
        return self._list_all(task_path)

    def list_schedules(self) -> list[Body]:
        """Every TaskSchedule of the cluster (or of the watched namespaces), in one LIST (per namespace),
        from etcd: the high-water marks as written."""
        return self._list_all(schedule_path)[0]

    def list_runs(self, ns: str) -> tuple[list[Body], int]:
        """The Tasks of `ns` labelled as runs of a schedule and the version read at, from etcd: a run
        created a moment ago must count as existing and active, or Forbid and Queue could start a second.
        One LIST for every schedule of the namespace: etcd reads the namespace's whole Task range for
        any label selector, so one LIST per schedule cost N times that (bench/README.md, figure 7)."""
        return self.json.list_at(task_path(ns), LABEL_SCHEDULE)

    def get_template(self, ns: str, name: str) -> TaskTemplateSpec | None:
        body = self.json.get(resource_path(GROUP, VERSION, "tasktemplates", ns, name))
        return TaskTemplate.model_validate(body).spec if body is not None else None

    def observe_jobs(self, ns: str, uid: str, latest: int | None = None) -> dict[int, JobObservation]:
        """One Task's Jobs and their pods (`latest`: the Task's newest attempt number).

        Read from the apiserver's watch cache: a quorum LIST reads and decodes every Job or pod of
        the namespace from etcd, which makes finishing many Tasks at once in one namespace slow
        (bench/README.md, figure 2). The cache may trail etcd by a moment, so when what it shows
        would decide by absence (the newest attempt's Job missing means PodLost; a Job without its
        pod), the reads are repeated against etcd before anything is decided.
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
        pods = self.json.list(pod_path(ns), selector, cached=cached)
        return observations_by_task(jobs, pods).get(uid, {})

    def observe_all_jobs(self) -> dict[str, dict[int, JobObservation]]:
        """Every Task's Jobs and pods by Task uid, in two cluster-wide LISTs (Jobs first, then pods).

        For a full resync: call it right after listing the Tasks, so no Job or pod can be older than
        the Task it is decided with (the same order the per-Task reads follow)."""
        jobs = self._list_all(job_path, LABEL_TASK_UID)[0]
        pods = self._list_all(pod_path, LABEL_TASK_UID)[0]
        return observations_by_task(jobs, pods)

    def list_task_jobs(self) -> list[Body]:
        """Every Job labelled with a Task uid, as JSON."""
        return self._list_all(job_path, LABEL_TASK_UID)[0]

    # -- writes --------------------------------------------------------------------------------

    def create_job(self, ns: str, body: Body, uid: str) -> JobCreate:
        """Create the Job `body` of the Task `uid`; which of the three outcomes happened."""
        try:
            self.json.create(job_path(ns), body, decode=False)
        except ApiException as e:
            if namespace_terminating(e):
                return JobCreate.NAMESPACE_TERMINATING
            if e.status != 409:
                raise
            existing = self.json.get(job_path(ns, body["metadata"]["name"])) or {"metadata": {}}
            if (existing["metadata"].get("labels") or {}).get(LABEL_TASK_UID) != uid:
                return JobCreate.NOT_OURS
            return JobCreate.ADOPTED
        self._count("job-create")
        return JobCreate.CREATED

    def delete_job(self, ns: str, name: str) -> bool:
        """Delete a Job (its pods go in the background); False when it was already gone."""
        if self.json.delete(job_path(ns, name), missing_ok=True) is None:
            return False
        self._count("job-delete")
        return True

    def create_task(self, ns: str, body: Body) -> bool:
        """Create a Task; False when one of that name exists already (409)."""
        try:
            self.json.create(task_path(ns), body, decode=False)
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        self._count("task-create")
        return True

    def cancel_task(self, ns: str, name: str) -> bool:
        """Set a Task's `spec.cancel`; False when it is gone."""
        try:
            self.json.merge_patch(task_path(ns, name), {"spec": {"cancel": True}})
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        self._count("task-cancel")
        return True

    def delete_task(self, ns: str, name: str) -> bool:
        """Delete a Task; False when it was already gone."""
        return self.json.delete(task_path(ns, name), missing_ok=True) is not None

    def write_status(self, raw: Body, new: dict[str, Any]) -> Body | None:
        """Patch the status subresource of a Task or TaskSchedule to `new` (wire form) if it changed;
        the updated object, or None when unchanged."""
        old = raw.get("status") or {}
        if old == new:
            return None
        meta = raw["metadata"]
        paths = schedule_path if raw.get("kind") == "TaskSchedule" else task_path
        path = paths(meta["namespace"], meta["name"], "status")
        written = cast(Body, self.json.request("PATCH", path, body=_status_patch(new), content_type=JSON_PATCH))
        self._count("status")
        return written

    def post_event(self, raw: Body, ev: Event) -> None:
        """Queue a core/v1 Event on the Task or TaskSchedule (best effort: a lost event never blocks a task)."""
        self.events.record(raw["metadata"]["namespace"], event_body(raw, ev, datetime.now(UTC)))
