"""Two operator replicas: only the Lease holder acts; when it dies the other takes over.

"Acts" is read from the apiserver's audit log, by each replica's own User-Agent, not from the
replicas' logs: a standby that patched a status, created a Job or posted an Event would show
there. Each replica mirrors to its own database, so a standby that wrote SQL shows too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kubetask.store import make_engine
from kubetask.store.tables import TaskRow
from kubetask.testing.audit import WRITE_VERBS, AuditLog, AuditRequest
from kubetask.testing.cluster import Cluster, OperatorProcess, create, task, template, wait_for, wait_task

A, B = "(replica-a)", "(replica-b)"  # in each replica's User-Agent: kubetask-operator/<version> (<identity>)


@dataclass
class Replicas:
    a: OperatorProcess
    b: OperatorProcess
    mark: int  # the audit log's end before either started


@pytest.fixture
def replicas(cluster: Cluster, operator: OperatorProcess, tmp_path: Path) -> Iterator[Replicas]:
    operator.stop()  # the session's single operator steps aside for this test
    env = {"KUBETASK_OPERATOR_LEASE_NAME": "kubetask-ha-test", "KUBETASK_OPERATOR_LEASE_SECONDS": "4"}
    mark = cluster.audit().mark()
    a, b = (
        OperatorProcess(
            cluster,
            tmp_path / f"{who}.log",
            f"sqlite:///{tmp_path / who}.db",
            env={**env, "KUBETASK_OPERATOR_IDENTITY": who},
        )
        for who in ("replica-a", "replica-b")
    )
    a.start()
    wait_for("replica-a leads", lambda: "replica-a now leads" in a.output(), timeout=30)
    b.start()
    try:
        yield Replicas(a, b, mark)
    finally:
        a.stop()
        b.stop()
        operator.start()


def _task_rows(url: str) -> list[tuple[str, str]]:
    """(namespace, name) of every Task row in a replica's own database (which must exist by now)."""
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return [(r.namespace, r.name) for r in s.scalars(select(TaskRow))]
    finally:
        engine.dispose()


def test_only_the_leader_acts_and_the_other_takes_over(cluster: Cluster, replicas: Replicas, namespace: str) -> None:
    a, b, audit = replicas.a, replicas.b, cluster.audit()

    def b_is_watching() -> bool:
        # kopf's own Task LIST and the elector's Lease reads, under b's name: b is up, identifiable,
        # and its writes below would be seen
        return bool(audit.requests(since=replicas.mark, verb="list", resource="tasks", user_agent=B)) and bool(
            audit.requests(since=replicas.mark, verb="get", resource="leases", user_agent=B)
        )

    wait_for("replica-b watching and standing by", b_is_watching, timeout=60)
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    for i in range(3):
        create(cluster, namespace, "tasks", task(f"one-{i}", templateRef={"name": "echo"}, params={"i": i}))
    for i in range(3):
        assert wait_task(cluster, namespace, f"one-{i}")["status"]["phase"] == "Succeeded"
    cluster.audit_sync()

    assert _writes(audit, replicas.mark, B) == [], "the standby wrote to the apiserver"
    assert _task_rows(b.database_url) == [], "the standby wrote its SQL mirror"
    assert _job_creates(audit, replicas.mark, namespace) == [(f"one-{i}-1", A) for i in range(3)]
    status_writers = {_who(r.user_agent) for r in _status_writes(audit, replicas.mark, namespace)}
    assert status_writers == {A}

    takeover = audit.mark()
    a.kill()
    create(cluster, namespace, "tasks", task("two", templateRef={"name": "echo"}, params={"after": "failover"}))

    st = wait_task(cluster, namespace, "two", timeout=60)["status"]
    assert (st["phase"], st["result"]) == ("Succeeded", {"after": "failover"})
    assert "replica-b now leads" in b.output()
    cluster.audit_sync()
    # b re-derived every Task on taking over and created only the new one's Job; the old ones stayed single
    assert _job_creates(audit, takeover, namespace) == [("two-1", B)]
    assert [n for n, _ in _job_creates(audit, replicas.mark, namespace)].count("two-1") == 1
    assert _writes(audit, takeover, A) == []
    wait_for("replica-b mirrors once leading", lambda: (namespace, "two") in _task_rows(b.database_url), timeout=60)


def _who(user_agent: str) -> str:
    return A if A in user_agent else B if B in user_agent else user_agent


def _writes(audit: AuditLog, since: int, who: str) -> list[tuple[str, str, str, str]]:
    """Every write by `who` except to Leases (renewing or reading the Lease is what a standby does)."""
    writes = audit.requests(since=since, verb=WRITE_VERBS, user_agent=who)
    return [(r.verb, r.resource, r.subresource, r.name) for r in writes if r.resource != "leases"]


def _job_creates(audit: AuditLog, since: int, namespace: str) -> list[tuple[str, str]]:
    """(Job name, replica) of each Job created in `namespace` (answered 201), in order, by anyone."""
    creates = audit.requests(since=since, verb="create", resource="jobs", namespace=namespace, code=201)
    return sorted((r.name, _who(r.user_agent)) for r in creates)


def _status_writes(audit: AuditLog, since: int, namespace: str) -> list[AuditRequest]:
    return audit.requests(
        since=since, verb={"patch", "update"}, resource="tasks", subresource="status", namespace=namespace
    )
