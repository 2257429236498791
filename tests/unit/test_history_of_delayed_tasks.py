"""The mirror's history of a Task with `spec.runAt`: its first Job is dated at runAt, not at the
creation (the status never says when a Job was created; runAt is the earliest it can have been)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kubetask.history import snapshot
from tests.oracle import expected_events

CREATED = "2026-05-04T10:00:00Z"
STATUS = {"phase": "Pending", "attemptCount": 1, "attempts": [{"number": 1, "jobName": "t-1", "phase": "Pending"}]}


def _cr(run_at: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"templateRef": {"name": "tpl"}} | ({"runAt": run_at} if run_at else {})
    meta = {"name": "t", "namespace": "ns", "uid": "u", "resourceVersion": "7", "creationTimestamp": CREATED}
    return {"apiVersion": "kubetask.io/v1alpha1", "kind": "Task", "metadata": meta, "spec": spec, "status": STATUS}


@pytest.mark.parametrize(
    ("run_at", "job_at"),
    [
        pytest.param("2026-05-04T11:30:00Z", datetime(2026, 5, 4, 11, 30, tzinfo=UTC), id="a later runAt"),
        pytest.param("2026-05-04T09:00:00Z", datetime(2026, 5, 4, 10, tzinfo=UTC), id="a past runAt: the creation"),
        pytest.param(None, datetime(2026, 5, 4, 10, tzinfo=UTC), id="no runAt: the creation"),
    ],
)
def test_the_first_job_of_a_delayed_task_is_dated_at_run_at(run_at: str | None, job_at: datetime) -> None:
    events = {e.key: e for e in snapshot(_cr(run_at)).events}
    assert events["attempt-1-job"].timestamp == job_at
    assert expected_events(_cr(run_at))["attempt-1-job"][0] == job_at  # the integration tests' oracle agrees
