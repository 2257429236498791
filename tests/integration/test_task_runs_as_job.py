"""A Task becomes a Job whose pod runs the executor in a real container; its result lands in status."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetask.testing.cluster import Cluster, get_task, task_events, wait_for, wait_task

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("operator")


def test_kubectl_apply_of_template_and_task_succeeds_with_echoed_result(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples/echo.yaml"))

    t = wait_task(cluster, namespace, "hello")

    st = t["status"]
    assert st["phase"] == "Succeeded", st
    assert st["result"] == {"message": "hello from kubetask", "times": 2}
    assert st["attemptCount"] == 1
    assert [(a["number"], a["jobName"], a["exitCode"]) for a in st["attempts"]] == [(1, "hello-1", 0)]
    assert st["completionTime"] and st["startTime"] and st["duration"]
    jobs = cluster.batch().list_namespaced_job(namespace).items
    assert [j.metadata.name for j in jobs] == ["hello-1"]
    owner = jobs[0].metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Task",
        "hello",
        t["metadata"]["uid"],
        True,
    )
    pods = cluster.core().list_namespaced_pod(namespace).items
    assert len(pods) == 1 and pods[0].metadata.owner_references[0].name == "hello-1"
    assert st["attempts"][0]["podName"] == pods[0].metadata.name
    reasons = [r for _, r in task_events(cluster, namespace, "hello")]
    assert reasons[0] == "JobCreated" and reasons[-1] == "Completed", reasons

    printed = cluster.kubectl("get", "tasks", "-n", namespace).stdout
    assert printed.split("\n")[0].split() == ["NAME", "TEMPLATE", "PHASE", "ATTEMPTS", "AGE", "DURATION"]
    assert printed.split("\n")[1].split()[:4] == ["hello", "echo", "Succeeded", "1"]

    cluster.kubectl("delete", "task", "hello", "-n", namespace)
    wait_for(
        "Job and pod garbage-collected",
        lambda: (
            not cluster.batch().list_namespaced_job(namespace).items
            and not cluster.core().list_namespaced_pod(namespace).items
        ),
        timeout=30,
    )


def test_status_is_not_rewritten_once_final(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples/echo.yaml"))
    done = wait_task(cluster, namespace, "hello")
    # More events (the pod and Job settle after the task is final) must not rewrite the status.
    wait_for("Job complete", lambda: cluster.batch().read_namespaced_job("hello-1", namespace).status.succeeded)
    assert get_task(cluster, namespace, "hello")["status"] == done["status"]
