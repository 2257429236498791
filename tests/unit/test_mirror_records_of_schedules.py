"""The mirror's records: a run Task names its schedule and instant; a TaskSchedule's essentials."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubetask.history import snapshot
from kubetask.schedule_history import schedule_snapshot


def _task(**meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "Task",
        "metadata": {"name": "t", "namespace": "ns", "uid": "u-t", "resourceVersion": "3", **meta},
        "spec": {"templateRef": {"name": "echo"}},
    }


_OWNER = {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskSchedule", "name": "nightly", "uid": "u-s"}


def test_a_run_task_record_names_its_schedule_uid_and_nominal_instant() -> None:
    rec = snapshot(
        _task(
            annotations={"kubetask.io/scheduled-time": "2026-05-01T02:00:00Z"},
            ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u-x"}, _OWNER],
        )
    )
    assert (rec.schedule, rec.schedule_uid, rec.scheduled_time) == (
        "nightly",
        "u-s",
        datetime(2026, 5, 1, 2, tzinfo=UTC),
    )


def test_a_task_no_schedule_owns_has_no_schedule_link_whatever_its_label() -> None:
    rec = snapshot(_task(labels={"kubetask.io/schedule": "nightly"}))
    assert (rec.schedule, rec.schedule_uid, rec.scheduled_time) == (None, None, None)


def test_an_unreadable_scheduled_time_leaves_the_instant_out_but_keeps_the_owner() -> None:
    rec = snapshot(_task(annotations={"kubetask.io/scheduled-time": "soon"}, ownerReferences=[_OWNER]))
    assert (rec.schedule, rec.schedule_uid, rec.scheduled_time) == ("nightly", "u-s", None)


def test_a_schedule_record_holds_spec_essentials_ready_and_the_earliest_next_run() -> None:
    rec = schedule_snapshot(
        {
            "metadata": {"name": "nightly", "namespace": "ns", "uid": "u-s", "resourceVersion": "8"},
            "spec": {
                "schedule": "0 2 * * *",
                "timeZone": "Europe/Berlin",
                "concurrencyPolicy": "Forbid",
                "suspend": True,
                "task": {"templateRef": {"name": "echo"}},
            },
            "status": {
                "activeCount": 1,
                "skippedRuns": 4,
                "nextRunTimes": ["2026-05-03T00:00:00Z", "2026-05-02T00:00:00Z"],
                "conditions": [{"type": "Ready", "status": "False", "reason": "Suspended"}],
            },
        }
    )
    assert (rec.schedule, rec.time_zone, rec.concurrency_policy, rec.suspend, rec.template) == (
        "0 2 * * *",
        "Europe/Berlin",
        "Forbid",
        True,
        "echo",
    )
    assert (rec.ready, rec.ready_reason, rec.active_count, rec.skipped_runs) == ("False", "Suspended", 1, 4)
    assert rec.next_run_time == datetime(2026, 5, 2, tzinfo=UTC)
    assert rec.resource_version == 8


def test_a_schedule_with_a_broken_spec_and_status_is_still_recorded() -> None:
    rec = schedule_snapshot(
        {
            "metadata": {"name": "bad", "namespace": "ns", "uid": "u-b"},
            "spec": {"schedule": 5, "task": "nope"},
            "status": {"activeCount": "many"},
        }
    )
    assert (rec.schedule, rec.template, rec.suspend, rec.active_count, rec.ready) == (None, None, False, 0, None)
