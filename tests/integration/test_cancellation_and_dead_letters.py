"""Cancel while running and while waiting for a retry; dead letters and redrive; TTL; orphans."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.operator.kube import Apiserver
from kubetask.operator.sweep import delete_orphans
from kubetask.testing.cluster import Cluster, OperatorProcess, create, get_task, task, template, wait_for, wait_task
from kubetask.testing.tokens import admin_headers


@pytest.fixture
def http(cluster: Cluster, operator: OperatorProcess, tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'kubetask.db'}"
    operator.use_database(url)
    app = create_app(ApiSettings(database_url=url), api=cluster.api())
    with TestClient(app, headers=admin_headers(cluster)) as client:
        yield client


def _jobs(cluster: Cluster, ns: str) -> list[Any]:
    return [j for j in cluster.batch().list_namespaced_job(ns).items if j.metadata.deletion_timestamp is None]


def test_cancel_while_running_over_the_api(cluster: Cluster, http: TestClient, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("sleep", handler="sleep"))
    create(cluster, namespace, "tasks", task("nap", templateRef={"name": "sleep"}, params={"seconds": 300}))
    wait_task(cluster, namespace, "nap", {"Running"})

    r = http.post(f"/api/v1/namespaces/{namespace}/tasks/nap/cancel")
    assert r.status_code == 202, r.text

    st = wait_task(cluster, namespace, "nap")["status"]
    assert (st["phase"], st["reason"]) == ("Cancelled", "Cancelled")
    assert st["attempts"][0]["phase"] == "Cancelled"
    wait_for(
        "Job and pod deleted",
        lambda: not _jobs(cluster, namespace) and not cluster.core().list_namespaced_pod(namespace).items,
        timeout=30,
    )
    again = http.post(f"/api/v1/namespaces/{namespace}/tasks/nap/cancel")
    assert again.status_code == 409 and "already finished" in again.json()["detail"]
    events = http.get(f"/api/v1/namespaces/{namespace}/tasks/nap/events").json()
    assert events[-1]["reason"] == "Cancelled"  # history kept


@pytest.mark.usefixtures("operator")
def test_cancel_while_waiting_for_a_retry_with_kubectl(cluster: Cluster, namespace: str) -> None:
    policy = {"maxAttempts": 3, "backoff": "constant", "delaySeconds": 300}
    body = task(
        "later",
        image="kubetask/executor:dev",
        imagePullPolicy="IfNotPresent",
        command=["python3", "-c", "raise SystemExit(1)"],
        retry=policy,
    )
    create(cluster, namespace, "tasks", body)
    waiting = wait_task(cluster, namespace, "later", {"Retrying"})["status"]
    assert waiting["nextAttemptTime"]

    cluster.kubectl("patch", "task", "later", "-n", namespace, "--type=merge", "-p", '{"spec": {"cancel": true}}')

    st = wait_task(cluster, namespace, "later")["status"]
    assert (st["phase"], st["attemptCount"]) == ("Cancelled", 1)
    assert "nextAttemptTime" not in st


def test_always_failing_task_is_dead_lettered_and_redrive_succeeds_once_fixed(
    cluster: Cluster, http: TestClient, namespace: str
) -> None:
    spec = {
        "image": "kubetask/executor:dev",
        "imagePullPolicy": "IfNotPresent",
        "handler": "fail",
        "retry": {"maxAttempts": 2, "delaySeconds": 1, "jitter": "none"},
    }
    assert http.post(f"/api/v1/namespaces/{namespace}/templates", json={"name": "job", "spec": spec}).status_code == 201
    r = http.post(
        f"/api/v1/namespaces/{namespace}/tasks",
        json={"template": "job", "name": "doomed", "params": {"message": "bad"}},
    )
    assert r.status_code == 201, r.text
    st = wait_task(cluster, namespace, "doomed")["status"]
    assert (st["phase"], st["attemptCount"]) == ("DeadLettered", 2)

    def listed() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = http.get(f"/api/v1/namespaces/{namespace}/deadletters").json()["items"]
        return items or None

    [dead] = wait_for("dead letter mirrored", listed)
    assert (dead["name"], dead["attemptCount"], dead["reason"]) == ("doomed", 2, "NonZeroExit")
    assert http.get("/api/v1/deadletters?reason=NonZeroExit&pending=true").json()["items"][0]["name"] == "doomed"

    fixed = {**spec, "handler": "echo"}  # the cause is fixed in the template
    assert (
        http.put(f"/api/v1/namespaces/{namespace}/templates/job", json={"name": "job", "spec": fixed}).status_code
        == 200
    )
    r = http.post(f"/api/v1/namespaces/{namespace}/deadletters/doomed/redrive")
    assert r.status_code == 201 and r.json()["task"] == "doomed-r1"
    again = http.post(f"/api/v1/namespaces/{namespace}/deadletters/doomed/redrive")
    assert again.json()["task"] == "doomed-r1"  # a repeat returns the same redrive

    st = wait_task(cluster, namespace, "doomed-r1")["status"]
    assert (st["phase"], st["result"]) == ("Succeeded", {"message": "bad"})
    assert get_task(cluster, namespace, "doomed-r1")["spec"]["redriveOf"]["name"] == "doomed"

    def redriven() -> dict[str, Any] | None:
        item: dict[str, Any] = http.get(f"/api/v1/namespaces/{namespace}/deadletters").json()["items"][0]
        return item if item["redriveCount"] == 1 else None

    assert wait_for("dead letter linked to its redrive", redriven)["lastRedrive"] == "doomed-r1"
    assert http.get("/api/v1/deadletters?pending=true").json()["items"] == [] or all(
        i["name"] != "doomed" for i in http.get("/api/v1/deadletters?pending=true").json()["items"]
    )
    assert http.delete(f"/api/v1/namespaces/{namespace}/deadletters/doomed").status_code == 204
    assert http.get(f"/api/v1/namespaces/{namespace}/deadletters").json()["items"] == []


def test_redrive_many_by_filter(cluster: Cluster, http: TestClient, namespace: str) -> None:
    spec = {
        "image": "kubetask/executor:dev",
        "imagePullPolicy": "IfNotPresent",
        "handler": "fail",
        "retry": {"maxAttempts": 2, "delaySeconds": 1, "jitter": "none"},
    }
    http.post(f"/api/v1/namespaces/{namespace}/templates", json={"name": "bulk", "spec": spec})
    for i in range(3):
        http.post(f"/api/v1/namespaces/{namespace}/tasks", json={"template": "bulk", "name": f"b{i}"})
    for i in range(3):
        wait_task(cluster, namespace, f"b{i}")
    wait_for(
        "3 dead letters", lambda: len(http.get(f"/api/v1/namespaces/{namespace}/deadletters").json()["items"]) == 3
    )
    http.put(
        f"/api/v1/namespaces/{namespace}/templates/bulk", json={"name": "bulk", "spec": {**spec, "handler": "echo"}}
    )

    out = http.post("/api/v1/deadletters/redrive", json={"namespace": namespace, "template": "bulk"}).json()

    assert sorted(o["task"] for o in out) == ["b0-r1", "b1-r1", "b2-r1"]
    for o in out:
        assert wait_task(cluster, namespace, o["task"])["status"]["phase"] == "Succeeded"


def test_ttl_deletes_finished_task_after_history_is_safe(cluster: Cluster, http: TestClient, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo", ttlSecondsAfterFinished=3))
    create(cluster, namespace, "tasks", task("brief", templateRef={"name": "echo"}, params={"k": 1}))
    wait_task(cluster, namespace, "brief")

    def gone() -> bool:
        items = cluster.custom().list_namespaced_custom_object("kubetask.io", "v1alpha1", namespace, "tasks")["items"]
        return not items and not _jobs(cluster, namespace)

    wait_for("Task and Job deleted after the TTL", gone, timeout=60)
    detail = http.get(f"/api/v1/namespaces/{namespace}/tasks/brief").json()
    assert (detail["live"], detail["phase"], detail["result"]) == (False, "Succeeded", {"k": 1})


def test_orphaned_jobs_are_deleted_by_the_sweep(cluster: Cluster, namespace: str) -> None:
    sleeper = {
        "name": "main",
        "image": "kubetask/executor:dev",
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-c", "import time; time.sleep(300)"],
    }
    pod_spec = {"restartPolicy": "Never", "containers": [sleeper]}
    meta = {
        "name": "orphan-1",
        "labels": {"kubetask.io/task-uid": "no-such-uid"},
        "annotations": {"kubetask.io/task": "gone"},
    }
    orphan = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}},
    }
    cluster.batch().create_namespaced_job(namespace, orphan)
    kube = Apiserver(cluster.api())

    assert f"{namespace}/orphan-1" not in delete_orphans(kube)  # too young: may belong to a brand-new Task
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert f"{namespace}/orphan-1" in delete_orphans(kube, now=later)
    wait_for("orphan gone", lambda: not _jobs(cluster, namespace))
