"""Each instant of a TaskSchedule runs once: across SIGKILLs of the operator, with two replicas and a
leader that dies, after the history limit deleted its run, and with a queued instant held in status.

"Once" is counted in the apiserver's audit log (Task creates answered 201, per name), never by listing
Tasks: a run deleted by the history limit and created again would not show in a listing.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubetask.labels import ANNOTATION_SCHEDULED_TIME
from kubetask.models import GROUP, VERSION
from kubetask.testing.cluster import (
    Cluster,
    OperatorProcess,
    create,
    dedicated_operator,
    list_objects,
    template,
    wait_for,
)
from kubetask.testing.timestamps import parse_instant

pytestmark = pytest.mark.own_cluster  # stops the session operator for operators of its own

STEP = timedelta(seconds=5)


def _schedule(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskSchedule", "metadata": {"name": name}, "spec": spec}


def _nap(seconds: float) -> dict[str, Any]:
    return {"templateRef": {"name": "nap"}, "params": {"seconds": seconds}}


def _status(cluster: Cluster, ns: str, name: str = "s") -> dict[str, Any]:
    obj = cluster.custom().get_namespaced_custom_object(GROUP, VERSION, ns, "taskschedules", name)
    status: dict[str, Any] = obj.get("status") or {}
    return status


def _created(cluster: Cluster, ns: str, since: int = 0) -> Counter[str]:
    """Task creates answered 201 in `ns`, per name, by anyone (the audit log's oracle)."""
    cluster.audit_sync()
    return Counter(
        r.name for r in cluster.audit().requests(since=since, verb="create", resource="tasks", namespace=ns, code=201)
    )


def _names(cluster: Cluster, ns: str) -> set[str]:
    return {t["metadata"]["name"] for t in list_objects(cluster, ns, "tasks")}


def _task(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    return next((t for t in list_objects(cluster, ns, "tasks") if t["metadata"]["name"] == name), None)


def _instant(name: str) -> datetime:
    return datetime.strptime(name.rsplit("-", 1)[1], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _until_just_before_an_instant(offset: float) -> None:
    """Sleep until `offset` seconds before the next multiple of 5 s (negative: after it)."""
    now = time.time()
    target = (now // 5 + 1) * 5 - offset
    if target <= now:
        target += 5
    time.sleep(target - now)


@pytest.fixture
def prepared(cluster: Cluster, namespace: str) -> str:
    create(cluster, namespace, "tasktemplates", template("nap", handler="sleep"))
    return namespace


def test_sigkill_across_due_instants_creates_each_runs_task_once_and_skips_none(
    cluster: Cluster, operator: OperatorProcess, prepared: str, tmp_path: Path
) -> None:
    ns = prepared
    # RunAll: however long a restart takes on a loaded machine (two instants may fall due meanwhile,
    # and RunLatest would rightly count the older one missed), every instant runs, exactly once
    spec = {
        "schedule": "*/5 * * * * *",
        "task": _nap(0),
        "successfulHistoryLimit": 1,
        "failedHistoryLimit": 1,
        "missedRunPolicy": "RunAll",
    }
    with dedicated_operator(operator, cluster, tmp_path / "op.log") as op:
        create(cluster, ns, "taskschedules", _schedule("s", **spec))
        wait_for("a first run", lambda: _names(cluster, ns), timeout=30)
        for offset in (0.3, -0.2, 0.05):  # killed just before, just after and right at an instant
            _until_just_before_an_instant(offset)
            op.kill()
            time.sleep(1.5)  # the instant falls due while no operator is up
            op.start()
            time.sleep(6)  # the restarted operator catches up and runs the next instant
        deleted = wait_for(
            "runs deleted by the history limit",
            lambda: set(_created(cluster, ns)) - _names(cluster, ns) or None,
            timeout=30,
        )
        status = _status(cluster, ns)
    created = _created(cluster, ns)
    assert all(n == 1 for n in created.values()), [k for k, n in created.items() if n > 1]
    instants = sorted(_instant(n) for n in created)
    gaps = [b for a, b in zip(instants, instants[1:], strict=False) if b - a != STEP]
    assert not gaps, f"instants without a run before {gaps}"
    assert deleted and status.get("missedRuns", 0) == 0, status
    assert parse_instant(status["lastScheduleTime"]) >= instants[-1]


def test_two_replicas_and_a_dying_leader_create_each_runs_task_once(
    cluster: Cluster, operator: OperatorProcess, prepared: str, tmp_path: Path
) -> None:
    ns = prepared
    operator.stop()
    env = {"KUBETASK_OPERATOR_LEASE_NAME": f"sched-{uuid.uuid4().hex[:6]}", "KUBETASK_OPERATOR_LEASE_SECONDS": "4"}
    a, b = (
        OperatorProcess(
            cluster, tmp_path / f"{w}.log", f"sqlite:///{tmp_path / w}.db", env={**env, "KUBETASK_OPERATOR_IDENTITY": w}
        )
        for w in ("replica-a", "replica-b")
    )
    try:
        a.start()
        wait_for("replica-a leads", lambda: "replica-a now leads" in a.output(), timeout=30)
        b.start()
        create(cluster, ns, "taskschedules", _schedule("s", schedule="*/5 * * * * *", task=_nap(0)))
        wait_for("two runs", lambda: len(_names(cluster, ns)) >= 2 or None, timeout=30)
        a.kill()
        wait_for("replica-b leads", lambda: "replica-b now leads" in b.output(), timeout=30)
        first_of_b = len(_names(cluster, ns))
        wait_for("runs by replica-b", lambda: len(_names(cluster, ns)) >= first_of_b + 2 or None, timeout=30)
    finally:
        a.stop()
        b.stop()
        operator.start()
    created = _created(cluster, ns)
    assert all(n == 1 for n in created.values()), created
    by_b = {
        r.name
        for r in cluster.audit().requests(
            verb="create", resource="tasks", namespace=ns, user_agent="(replica-b)", code=201
        )
    }
    assert by_b, "the replica that took over created no run"
    status = _status(cluster, ns)
    # the lease took up to 4 s to pass: instants of that gap ran late (RunLatest) or were counted missed
    instants = sorted(_instant(n) for n in created)
    expected = int((instants[-1] - instants[0]) / STEP) + 1
    assert len(instants) + status.get("missedRuns", 0) == expected, (instants, status)


def test_queue_keeps_its_waiting_instant_across_an_operator_restart(
    cluster: Cluster, operator: OperatorProcess, prepared: str, tmp_path: Path
) -> None:
    ns = prepared
    with dedicated_operator(operator, cluster, tmp_path / "op.log") as op:
        create(
            cluster,
            ns,
            "taskschedules",
            _schedule("s", schedule="*/5 * * * * *", concurrencyPolicy="Queue", task=_nap(12)),
        )
        queued = wait_for("a queued instant", lambda: _status(cluster, ns).get("queued"), timeout=40)
        op.kill()
        time.sleep(3)
        op.start()
        name = f"s-{parse_instant(queued):%Y%m%d%H%M%S}"
        run = wait_for(f"the queued instant's run {name}", lambda: _task(cluster, ns, name), timeout=60)
        first = min(_names(cluster, ns))
    assert run["metadata"]["annotations"][ANNOTATION_SCHEDULED_TIME] == queued
    assert all(n == 1 for n in _created(cluster, ns).values())
    # the queued run started only once the run before it had ended
    ended = parse_instant(_task(cluster, ns, first)["status"]["completionTime"])  # type: ignore[index]
    assert parse_instant(run["metadata"]["creationTimestamp"]) >= ended - timedelta(seconds=1)
