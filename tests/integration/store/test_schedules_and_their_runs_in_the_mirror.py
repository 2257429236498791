"""Schedules and their runs in the SQL mirror, on SQLite and PostgreSQL: which instants ran, a
schedule's runs page by page with their success rate, the schedule rows themselves.

Run Task bodies are written here by hand, as the schedule controller shapes them (label, scheduled-time
annotation, controller ownerReference), so the expected sides never come from the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kubetask.history import snapshot
from kubetask.schedule_history import schedule_snapshot
from kubetask.store.queries import CursorError
from kubetask.store.schedule_runs import find_schedule, instants_already_run, list_schedule_runs, run_figures
from kubetask.store.writer import mark_deleted, mark_schedule_deleted, upsert_many, upsert_schedules

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _run(schedule: str, uid: str, instant: datetime, phase: str, *, ns: str = "ns") -> dict[str, Any]:
    stamp = instant.strftime("%Y%m%d%H%M%S")
    status: dict[str, Any] = {"phase": phase, "attemptCount": 1}
    if phase in ("Succeeded", "Failed", "Cancelled", "DeadLettered"):
        status["completionTime"] = (instant + timedelta(seconds=30)).isoformat()
    return {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "Task",
        "metadata": {
            "name": f"{schedule}-{stamp}",
            "namespace": ns,
            "uid": f"task-{uid}-{stamp}",
            "resourceVersion": "10",
            "creationTimestamp": instant.isoformat(),
            "labels": {"kubetask.io/schedule": schedule},
            "annotations": {"kubetask.io/scheduled-time": instant.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "ownerReferences": [
                {
                    "apiVersion": "kubetask.io/v1alpha1",
                    "kind": "TaskSchedule",
                    "name": schedule,
                    "uid": uid,
                    "controller": True,
                }
            ],
        },
        "spec": {"templateRef": {"name": "echo"}, "params": {}},
        "status": status,
    }


def _schedule(name: str, uid: str, rv: int, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "TaskSchedule",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": uid,
            "resourceVersion": str(rv),
            "creationTimestamp": T0.isoformat(),
        },
        "spec": {"schedule": "*/5 * * * *", "task": {"templateRef": {"name": "echo"}}, "suspend": False},
        "status": status,
    }


def _write(engine: Engine, bodies: list[dict[str, Any]]) -> None:
    with Session(engine) as s, s.begin():
        upsert_many(s, [snapshot(b) for b in bodies])


def test_instants_already_run_are_those_of_this_schedule_uid_even_after_the_task_is_deleted(engine: Engine) -> None:
    first, second, third = (T0 + timedelta(minutes=5 * i) for i in range(3))
    gone = _run("nightly", "uid-a", first, "Succeeded")
    _write(
        engine,
        [
            gone,
            _run("nightly", "uid-a", second, "Running"),
            _run("nightly", "uid-old", third, "Succeeded"),  # same name, an earlier schedule
            _run("nightly", "uid-a", third, "Succeeded", ns="other"),
        ],
    )
    with Session(engine) as s, s.begin():
        mark_deleted(s, gone["metadata"]["uid"], T0 + timedelta(hours=1))
    later = T0 + timedelta(days=1)
    asked = [first, second, third, later]
    with Session(engine) as s:
        ran = instants_already_run(s, namespace="ns", schedule_uid="uid-a", instants=asked)
    assert ran == {first, second}


def test_instants_asked_in_another_zone_match_the_same_utc_instant(engine: Engine) -> None:
    _write(engine, [_run("nightly", "uid-a", T0, "Succeeded")])
    berlin = T0.astimezone(ZoneInfo("Europe/Berlin"))
    with Session(engine) as s:
        ran = instants_already_run(s, namespace="ns", schedule_uid="uid-a", instants=[berlin])
    assert ran == {T0}
    assert next(iter(ran)).utcoffset() == timedelta(0)


def test_runs_are_listed_newest_instant_first_in_pages_that_neither_overlap_nor_skip(engine: Engine) -> None:
    instants = [T0 + timedelta(minutes=5 * i) for i in range(7)]
    _write(
        engine, [_run("nightly", "uid-a", t, "Succeeded") for t in instants] + [_run("other", "uid-b", T0, "Failed")]
    )
    seen: list[datetime] = []
    cursor = None
    with Session(engine) as s:
        for _ in range(10):
            page = list_schedule_runs(s, namespace="ns", schedule="nightly", limit=3, cursor=cursor)
            assert len(page.items) <= 3
            seen += [r.scheduled_time for r in page.items if r.scheduled_time]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == sorted(instants, reverse=True)


def test_a_cursor_from_elsewhere_is_refused(engine: Engine) -> None:
    with Session(engine) as s, pytest.raises(CursorError):
        list_schedule_runs(s, namespace="ns", schedule="nightly", cursor="bm90LWEtY3Vyc29y")


def test_success_rate_counts_succeeded_over_failed_and_leaves_cancelled_out(engine: Engine) -> None:
    phases = ["Succeeded", "Succeeded", "Succeeded", "Failed", "Cancelled", "Running"]
    _write(engine, [_run("nightly", "uid-a", T0 + timedelta(minutes=5 * i), p) for i, p in enumerate(phases)])
    with Session(engine) as s:
        figures = run_figures(s, namespace="ns", schedule="nightly")
        none = run_figures(s, namespace="ns", schedule="never-ran")
    assert figures.total == 6
    assert figures.by_phase == {"Succeeded": 3, "Failed": 1, "Cancelled": 1, "Running": 1}
    assert figures.success_rate == pytest.approx(0.75)
    assert figures.last_run_time == T0 + timedelta(minutes=25)
    assert (none.total, none.success_rate, none.last_run_time) == (0, None, None)


def test_a_schedule_row_keeps_the_newest_status_and_stays_when_the_schedule_is_deleted(engine: Engine) -> None:
    newer = _schedule("nightly", "uid-a", 20, lastScheduleTime="2026-05-01T12:10:00Z", missedRuns=2)
    older = _schedule("nightly", "uid-a", 10, lastScheduleTime="2026-05-01T12:05:00Z")
    with Session(engine) as s, s.begin():
        assert upsert_schedules(s, [schedule_snapshot(newer)]) == [True]
    with Session(engine) as s, s.begin():
        assert upsert_schedules(s, [schedule_snapshot(older)]) == [False]
        mark_schedule_deleted(s, "uid-a", T0 + timedelta(hours=1))
    with Session(engine) as s:
        row = find_schedule(s, "ns", "nightly")
        assert row is not None
        assert (row.last_schedule_time, row.missed_runs) == (T0 + timedelta(minutes=10), 2)
        assert (row.schedule, row.template, row.suspend) == ("*/5 * * * *", "echo", False)
        assert row.deleted_at == T0 + timedelta(hours=1)


def test_a_live_schedule_is_found_before_a_deleted_one_of_the_same_name(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        upsert_schedules(s, [schedule_snapshot(_schedule("nightly", "uid-old", 5))])
        mark_schedule_deleted(s, "uid-old", T0)
        upsert_schedules(s, [schedule_snapshot(_schedule("nightly", "uid-new", 9))])
    with Session(engine) as s:
        row = find_schedule(s, "ns", "nightly")
    assert row is not None and row.uid == "uid-new"
