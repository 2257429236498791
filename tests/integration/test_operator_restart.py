"""A crashed operator re-derives everything from the cluster: the task finishes once, one Job."""

from __future__ import annotations

import pytest

from kubetask.testing.cluster import Cluster, OperatorProcess, create, task, template, wait_task

pytestmark = pytest.mark.own_cluster  # kills the session operator


def test_sigkill_while_running_then_restart_finishes_once_with_one_job(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    create(cluster, namespace, "tasktemplates", template("sleep", handler="sleep"))
    create(
        cluster,
        namespace,
        "tasks",
        task("nap", templateRef={"name": "sleep"}, params={"seconds": 6, "result": {"rested": True}}),
    )
    wait_task(cluster, namespace, "nap", {"Running"})

    operator.kill()
    operator.start()

    st = wait_task(cluster, namespace, "nap")["status"]
    assert (st["phase"], st["result"]) == ("Succeeded", {"rested": True})
    assert [a["jobName"] for a in st["attempts"]] == ["nap-1"]
    assert [j.metadata.name for j in cluster.batch().list_namespaced_job(namespace).items] == ["nap-1"]


def test_task_created_while_operator_is_down_runs_when_it_returns(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    operator.kill()
    create(cluster, namespace, "tasks", task("queued", templateRef={"name": "echo"}, params={"n": 7}))

    operator.start()

    st = wait_task(cluster, namespace, "queued")["status"]
    assert (st["phase"], st["result"], st["attemptCount"]) == ("Succeeded", {"n": 7}, 1)
