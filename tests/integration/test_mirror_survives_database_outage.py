"""PostgreSQL stopped while tasks run: tasks still finish; once it is back the mirror holds every
transition the CRs report (rows, attempts and events)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kubetask.history import snapshot
from kubetask.store import make_engine
from kubetask.store.tables import AttemptRow, EventRow, TaskRow
from kubetask.testing.cluster import Cluster, OperatorProcess, create, get_task, task, template, wait_for, wait_task
from kubetask.testing.postgres import PostgresServer


@pytest.fixture
def own_postgres(operator: OperatorProcess) -> Iterator[PostgresServer]:
    before = operator.database_url
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        operator.use_database(before)
        server.destroy()


def _mirror_matches(url: str, crs: list[dict[str, Any]]) -> bool:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            for cr in crs:
                rec = snapshot(cr)
                row = s.scalars(select(TaskRow).where(TaskRow.uid == rec.uid)).one_or_none()
                if row is None or (row.phase, row.reason, row.result) != (rec.phase, rec.reason, rec.result):
                    return False
                attempts = s.scalars(select(AttemptRow).where(AttemptRow.task_id == row.id)).all()
                if [(a.number, a.exit_code, a.phase) for a in attempts] != [
                    (a.number, a.exit_code, a.phase) for a in rec.attempts
                ]:
                    return False
                keys = set(s.scalars(select(EventRow.key).where(EventRow.task_id == row.id)))
                if keys != {e.key for e in rec.events}:
                    return False
        return True
    except Exception:  # the database may still be starting
        return False
    finally:
        engine.dispose()


def test_tasks_finish_while_database_is_down_and_mirror_catches_up(
    cluster: Cluster, operator: OperatorProcess, own_postgres: PostgresServer, namespace: str
) -> None:
    url = own_postgres.new_database()
    operator.use_database(url)
    create(cluster, namespace, "tasktemplates", template("sleep", handler="sleep"))
    names = [f"nap-{i}" for i in range(4)]
    for i, name in enumerate(names):
        create(cluster, namespace, "tasks", task(name, templateRef={"name": "sleep"},
                                                 params={"seconds": 4, "result": {"i": i}}))  # fmt: skip
    for name in names:
        wait_task(cluster, namespace, name, {"Running"})

    own_postgres.stop()
    finals = [wait_task(cluster, namespace, name)["status"] for name in names]
    assert [f["phase"] for f in finals] == ["Succeeded"] * 4
    assert [f["result"] for f in finals] == [{"i": i} for i in range(4)]

    own_postgres.start()
    crs = [get_task(cluster, namespace, name) for name in names]
    wait_for("mirror caught up", lambda: _mirror_matches(url, crs), timeout=60, interval=1)
    assert "SQL mirror cannot write" in operator.output()
