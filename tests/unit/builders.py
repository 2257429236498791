"""Builders for test objects: each test states only what matters to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kubetask.models import Task, TaskTemplateSpec
from kubetask.observe import ContainerExit, JobObservation, PodObservation
from kubetask.reconcile import Observed

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def make_task(name: str = "t", status: dict[str, Any] | None = None, **spec: Any) -> Task:
    body: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "ns", "uid": "u-1"},
        "spec": spec or {"templateRef": {"name": "tpl"}, "params": {}},
    }
    if status is not None:
        body["status"] = status
    return Task.model_validate(body)


def make_template(**spec: Any) -> TaskTemplateSpec:
    return TaskTemplateSpec.model_validate({"image": "img:1", **spec})


def pod(phase: str = "Pending", **kw: Any) -> PodObservation:
    return PodObservation(name=kw.pop("name", "t-1-abcde"), phase=phase, created=NOW, **kw)


def exited(code: int, message: str | None = None, reason: str | None = None) -> PodObservation:
    return pod(
        "Succeeded" if code == 0 else "Failed",
        terminated=ContainerExit(
            exit_code=code,
            reason=reason,
            message=message,
            started_at=NOW,
            finished_at=NOW + timedelta(seconds=5),
        ),
    )


def job(*pods: PodObservation, attempt: int = 1, **kw: Any) -> JobObservation:
    return JobObservation(name=kw.pop("name", f"t-{attempt}"), attempt=attempt, pods=pods, **kw)


def observed(
    task: Task,
    *jobs: JobObservation,
    template: TaskTemplateSpec | None = None,
    missing: bool = False,
    now: datetime = NOW,
    created: datetime | None = None,
) -> Observed:
    return Observed(
        task=task,
        generation=1,
        template=template if template or missing else make_template(),
        template_missing=missing,
        jobs={j.attempt: j for j in jobs},
        now=now,
        created=created,
    )


# A TaskSchedule with every field set: the CRD tests check it validates, survives pruning and is served
SCHEDULE_SPEC: dict[str, Any] = {
    "schedule": "H 2 * * *",
    "timeZone": "Europe/Berlin",
    "task": {
        "templateRef": {"name": "report"},
        "params": {"day": "yesterday", "formats": ["csv", None]},
        "retry": {"maxAttempts": 3, "retryOn": ["OOMKilled", 3]},
        "timeoutSeconds": 600,
        "labels": {"team": "a"},
        "annotations": {"owner": "a@example.com"},
    },
    "concurrencyPolicy": "Queue",
    "startingDeadlineSeconds": 300,
    "missedRunPolicy": "RunAll",
    "maxMissedRuns": 5,
    "suspend": True,
    "suspendReason": "migration",
    "jitterSeconds": 60,
    "successfulHistoryLimit": 5,
    "failedHistoryLimit": 2,
}
SCHEDULE_STATUS: dict[str, Any] = {
    "lastScheduleTime": "2026-10-25T00:07:00Z",
    "lastSuccessfulTime": "2026-10-25T00:09:31Z",
    "active": [{"name": "nightly-20261025000700", "scheduledTime": "2026-10-25T00:07:00Z"}],
    "activeCount": 1,
    "queued": "2026-10-26T01:07:00Z",
    "nextRunTimes": ["2026-10-26T01:07:00Z", "2026-10-27T01:07:00Z"],
    "missedRuns": 2,
    "lastMissedTime": "2026-10-24T00:07:00Z",
    "skippedRuns": 1,
    "lastSkippedTime": "2026-10-23T00:07:00Z",
    "conditions": [{"type": "InvalidSpec", "status": "False", "reason": "Valid", "message": "The spec is valid."}],
    "observedGeneration": 1,
}
