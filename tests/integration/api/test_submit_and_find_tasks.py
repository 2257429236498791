"""Submit over HTTP → Job → executor container → Succeeded; listed with attempt and duration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubetask.testing.cluster import EXECUTOR_IMAGE, create, list_objects, template, wait_for, wait_task
from tests.integration.api.conftest import Stack

ROOT = Path(__file__).resolve().parents[3]
ECHO_SCHEMA = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}


def _listed(stack: Stack, path: str, name: str, phase: str, namespace: str | None = None) -> dict[str, Any] | None:
    r = stack.http.get(path)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    matches = (t for t in items if t["name"] == name and t["phase"] == phase and namespace in (None, t["namespace"]))
    return next(matches, None)


def test_http_submission_runs_and_appears_in_the_list(stack: Stack, namespace: str) -> None:
    r = stack.http.post(
        f"/api/v1/namespaces/{namespace}/templates",
        json={
            "name": "echo",
            "spec": {**EXECUTOR_IMAGE, "handler": "echo", "paramSchema": ECHO_SCHEMA},
        },
    )
    assert r.status_code == 201, r.text

    r = stack.http.post(
        f"/api/v1/namespaces/{namespace}/tasks",
        json={"template": "echo", "params": {"message": "over http"}, "labels": {"team": "data"}},
    )
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    assert name.startswith("echo-") and r.headers["location"].endswith(f"/tasks/{name}")

    wait_task(stack.cluster, namespace, name)
    path = f"/api/v1/namespaces/{namespace}/tasks?labelSelector=team%3Ddata"
    item = wait_for("task listed as Succeeded", lambda: _listed(stack, path, name, "Succeeded"))
    assert item["result"] == {"message": "over http"} and item["attemptCount"] == 1
    assert item["durationSeconds"] is not None and item["finishedAt"]

    detail = stack.http.get(f"/api/v1/namespaces/{namespace}/tasks/{name}").json()
    assert detail["live"] and [a["jobName"] for a in detail["attempts"]] == [f"{name}-1"]
    attempts = stack.http.get(f"/api/v1/namespaces/{namespace}/tasks/{name}/attempts").json()
    assert attempts[0]["exitCode"] == 0
    reasons = [e["reason"] for e in stack.http.get(f"/api/v1/namespaces/{namespace}/tasks/{name}/events").json()]
    assert reasons == ["Created", "JobCreated", "Started", "Completed", "Succeeded"]

    assert stack.http.delete(f"/api/v1/namespaces/{namespace}/tasks/{name}").status_code == 202
    wait_for("CR gone", lambda: stack.http.get(f"/api/v1/namespaces/{namespace}/tasks/{name}").json()["live"] is False)
    gone = stack.http.get(f"/api/v1/namespaces/{namespace}/tasks/{name}").json()
    assert gone["phase"] == "Succeeded" and gone["attempts"][0]["jobName"] == f"{name}-1"  # history stays


def test_task_made_with_kubectl_shows_up_in_the_api_list(stack: Stack, namespace: str) -> None:
    stack.cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples/echo.yaml"))
    wait_task(stack.cluster, namespace, "hello")
    path = "/api/v1/tasks?template=echo&q=hello"
    item = wait_for("kubectl task listed", lambda: _listed(stack, path, "hello", "Succeeded", namespace))
    assert item["namespace"] == namespace and item["result"] == {"message": "hello from kubetask", "times": 2}


def test_idempotency_key_returns_the_same_task(stack: Stack, namespace: str) -> None:
    create(stack.cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    body = {"template": "echo", "params": {"n": 1}}
    first = stack.http.post(f"/api/v1/namespaces/{namespace}/tasks", json=body, headers={"Idempotency-Key": "abc"})
    again = stack.http.post(f"/api/v1/namespaces/{namespace}/tasks", json=body, headers={"Idempotency-Key": "abc"})
    other = stack.http.post(f"/api/v1/namespaces/{namespace}/tasks", json=body, headers={"Idempotency-Key": "xyz"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.json()["uid"] == again.json()["uid"] != other.json()["uid"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(list_objects(stack.cluster, namespace, "tasks")) == 2
