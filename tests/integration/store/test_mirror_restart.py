"""After an operator restart the mirror knows what SQL already holds: the start-up resync, which
re-submits every live Task, writes only the Tasks that changed meanwhile."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kubetask.operator.mirror import Mirror
from kubetask.store import make_engine
from kubetask.store.tables import TaskRow


def _body(i: int, rv: int) -> dict[str, Any]:
    meta = {"name": f"t{i}", "namespace": "ns", "uid": f"uid-{i}", "resourceVersion": str(rv)}
    meta["creationTimestamp"] = "2026-11-29T05:00:00Z"
    spec, status = {"image": "busybox:1"}, {"phase": "Pending"}
    return {"apiVersion": "kubetask.io/v1alpha1", "kind": "Task", "metadata": meta, "spec": spec, "status": status}


def _settle(m: Mirror) -> None:
    deadline = time.monotonic() + 30
    while not m.idle() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert m.idle()


def test_a_restarted_mirror_skips_versions_sql_already_holds(database_url: str) -> None:
    engine = make_engine(database_url)
    first = Mirror(engine)
    first.start()
    for i in range(20):
        first.submit(_body(i, 100 + i))
    _settle(first)
    first.stop()

    second = Mirror(engine)  # a new process: it knows nothing until it reads SQL
    second.start()
    assert second.primed.wait(30)
    for i in range(20):  # the resync re-submits every Task: 19 unchanged, one moved on meanwhile
        second.submit(_body(i, 500 if i == 7 else 100 + i))
    _settle(second)
    second.stop()
    assert first.snapshots_written == 20
    assert second.snapshots_written == 1
    with Session(engine) as s:
        rows = {r.uid: r.resource_version for r in s.scalars(select(TaskRow))}
    assert rows == {f"uid-{i}": 500 if i == 7 else 100 + i for i in range(20)}
    engine.dispose()
