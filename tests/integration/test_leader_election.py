"""Two operator replicas: only the Lease holder acts; when it dies the other takes over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubetask.testing.cluster import Cluster, OperatorProcess, create, task, template, wait_for, wait_task


@pytest.fixture
def replicas(cluster: Cluster, operator: OperatorProcess, tmp_path: Path) -> Iterator[list[OperatorProcess]]:
    operator.stop()  # the session's single operator steps aside for this test
    env = {"KUBETASK_OPERATOR_LEASE_NAME": "kubetask-ha-test", "KUBETASK_OPERATOR_LEASE_SECONDS": "4"}
    ops = [
        OperatorProcess(
            cluster,
            tmp_path / f"{who}.log",
            f"sqlite:///{tmp_path / 'ha.db'}",
            env={**env, "KUBETASK_OPERATOR_IDENTITY": who},
        )  # fmt: skip
        for who in ("replica-a", "replica-b")
    ]
    ops[0].start()
    wait_for("replica-a leads", lambda: "replica-a now leads" in ops[0].output(), timeout=30)
    ops[1].start()
    try:
        yield ops
    finally:
        for op in ops:
            op.stop()
        operator.start()


def test_only_the_leader_acts_and_the_other_takes_over(cluster: Cluster, replicas: list[OperatorProcess],
                                                       namespace: str) -> None:  # fmt: skip
    a, b = replicas
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    for i in range(3):
        create(cluster, namespace, "tasks", task(f"one-{i}", templateRef={"name": "echo"}, params={"i": i}))
    for i in range(3):
        assert wait_task(cluster, namespace, f"one-{i}")["status"]["phase"] == "Succeeded"
    assert a.output().count("created Job") == 3 and "created Job" not in b.output()

    a.kill()
    create(cluster, namespace, "tasks", task("two", templateRef={"name": "echo"}, params={"after": "failover"}))

    st = wait_task(cluster, namespace, "two", timeout=60)["status"]
    assert (st["phase"], st["result"]) == ("Succeeded", {"after": "failover"})
    assert "replica-b now leads" in b.output() and "created Job two-1" in b.output()
    assert [j.metadata.name for j in cluster.batch().list_namespaced_job(namespace).items].count("two-1") == 1
