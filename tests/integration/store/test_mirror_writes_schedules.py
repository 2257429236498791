"""The operator's mirror writes TaskSchedules it is handed, and marks deleted ones, on both backends."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from kubetask.operator.mirror import Mirror
from kubetask.store import make_engine
from kubetask.store.schedule_runs import find_schedule


def _body(rv: int, missed: int) -> dict[str, object]:
    return {
        "kind": "TaskSchedule",
        "metadata": {"name": "nightly", "namespace": "ns", "uid": "u-s", "resourceVersion": str(rv)},
        "spec": {"schedule": "0 2 * * *", "task": {"templateRef": {"name": "echo"}}},
        "status": {"missedRuns": missed},
    }


def _wait_idle(mirror: Mirror) -> None:
    for _ in range(200):  # a bound on polling, not a timed assertion
        if mirror.idle() and mirror.healthy:
            return
        time.sleep(0.05)
    raise AssertionError("mirror did not finish writing")


def test_submitted_schedules_are_written_newest_first_and_deleted_ones_marked(database_url: str) -> None:
    engine = make_engine(database_url)
    mirror = Mirror(engine)
    mirror.start()
    try:
        mirror.submit_schedule(_body(5, 1))
        mirror.submit_schedule(_body(3, 0))  # older: ignored
        mirror.submit(_task())  # a Task batch only wakes the loop: schedules are written anyway
        _wait_idle(mirror)
        with Session(engine) as s:
            row = find_schedule(s, "ns", "nightly")
            assert row is not None and (row.missed_runs, row.deleted_at) == (1, None)
        mirror.schedule_deleted("u-s")
        _wait_idle(mirror)
        with Session(engine) as s:
            row = find_schedule(s, "ns", "nightly")
            assert row is not None and row.deleted_at is not None
    finally:
        mirror.stop()
        engine.dispose()


def _task() -> dict[str, object]:
    return {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "Task",
        "metadata": {"name": "t", "namespace": "ns", "uid": "u-t", "resourceVersion": "1"},
        "spec": {"templateRef": {"name": "echo"}},
    }
