"""POST …/tasks with `runAt`: the Task is created with spec.runAt (in UTC); a time without an offset,
or one UTC cannot hold, is refused naming /runAt with every other problem of the request, and
nothing is created."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kubetask.testing.cluster import Cluster, create, get_task, list_objects, template


def test_run_at_reaches_the_task_spec_in_utc(http: TestClient, cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    body = {"template": "echo", "name": "later", "runAt": "2030-01-02T04:05:06+01:00"}
    r = http.post(f"/api/v1/namespaces/{namespace}/tasks", json=body)
    assert r.status_code == 201, r.text
    assert get_task(cluster, namespace, "later")["spec"]["runAt"] == "2030-01-02T03:05:06Z"


@pytest.mark.parametrize(
    ("run_at", "says"),
    [
        pytest.param("2030-01-02T04:05:06", "needs an offset", id="no offset"),
        pytest.param("0001-01-01T00:00:00+01:00", "out of range", id="before year 1 in UTC"),
    ],
)
def test_a_run_at_that_is_no_instant_is_refused_with_the_other_problems(
    http: TestClient, cluster: Cluster, namespace: str, run_at: str, says: str
) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    body = {"template": "echo", "runAt": run_at, "labels": {"-bad": "x"}}
    r = http.post(f"/api/v1/namespaces/{namespace}/tasks", json=body)
    assert r.status_code == 422, r.text
    errors = {e["pointer"]: e["detail"] for e in r.json()["errors"]}
    assert sorted(errors) == ["/labels/-bad", "/runAt"] and says in errors["/runAt"]
    assert list_objects(cluster, namespace, "tasks") == []
