"""A backfill's history check, on SQLite and PostgreSQL: a run by hand hides no nominal instant.

Run Task bodies are written by hand, shaped as the controller and the API's trigger shape them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kubetask.history import snapshot
from kubetask.store.schedule_backfill import nominal_instants_already_run
from kubetask.store.writer import mark_deleted, upsert_many

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _run(instant: datetime, *, uid: str = "uid-a", trigger: str | None = None) -> dict[str, Any]:
    stamp = instant.strftime("%Y%m%d%H%M%S")
    name = f"nightly-{stamp}" + (f"-{trigger}" if trigger == "manual" else "")
    labels = {"kubetask.io/schedule": "nightly", **({"kubetask.io/trigger": trigger} if trigger else {})}
    return {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "Task",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"task-{uid}-{name}",
            "resourceVersion": "10",
            "creationTimestamp": instant.isoformat(),
            "labels": labels,
            "annotations": {"kubetask.io/scheduled-time": instant.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "ownerReferences": [
                {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskSchedule", "name": "nightly", "uid": uid}
            ],
        },
        "spec": {"templateRef": {"name": "echo"}, "params": {}},
        "status": {"phase": "Succeeded", "attemptCount": 1, "completionTime": instant.isoformat()},
    }


def test_nominal_and_backfilled_runs_count_a_manual_run_on_the_same_second_does_not(engine: Engine) -> None:
    nominal, backfilled, manual_only, other_uid = (T0 + timedelta(minutes=5 * i) for i in range(4))
    bodies = [
        _run(nominal),
        _run(backfilled, trigger="backfill"),
        _run(manual_only, trigger="manual"),
        _run(other_uid, uid="uid-old"),
    ]
    with Session(engine) as s, s.begin():
        upsert_many(s, [snapshot(b) for b in bodies])
        mark_deleted(s, bodies[0]["metadata"]["uid"], T0 + timedelta(hours=1))
    with Session(engine) as s:
        ran = nominal_instants_already_run(
            s, namespace="ns", schedule_uid="uid-a", instants=[nominal, backfilled, manual_only, other_uid]
        )
    assert ran == {nominal, backfilled}


def test_a_nominal_run_counts_even_with_a_manual_run_beside_it(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        upsert_many(s, [snapshot(_run(T0)), snapshot(_run(T0, trigger="manual"))])
    with Session(engine) as s:
        assert nominal_instants_already_run(s, namespace="ns", schedule_uid="uid-a", instants=[T0]) == {T0}
