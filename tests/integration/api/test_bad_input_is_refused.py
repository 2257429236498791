"""Bad input: each a 4xx problem-details answer naming the field, and nothing is created."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from kubetask.testing.cluster import Cluster, create, list_objects, template

SCHEMA = {
    "type": "object",
    "required": ["to"],
    "properties": {"to": {"type": "string"}, "n": {"type": "integer"}},
    "additionalProperties": False,
}


@pytest.fixture
def ns(cluster: Cluster, namespace: str) -> str:
    create(cluster, namespace, "tasktemplates", template("mail", handler="echo", paramSchema=SCHEMA))
    return namespace


def _problem(r: Any, status: int, kind: str) -> dict[str, Any]:
    """The problem-details body of `r`, checked to be of `kind` (the type URI's last part)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert (body["status"], body["type"]) == (status, f"https://kubetask.io/problems/{kind}"), body
    assert body["title"] and body["detail"] and body["instance"] == r.request.url.path
    return body


def test_unknown_template(http: TestClient, cluster: Cluster, ns: str) -> None:
    body = _problem(http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "nope"}), 422, "unknown-template")
    assert [e["pointer"] for e in body["errors"]] == ["/template"]
    assert f"TaskTemplate 'nope' not found in namespace '{ns}'" in body["errors"][0]["detail"]
    assert "'nope' not found" in body["detail"]
    assert list_objects(cluster, ns, "tasks") == []


def test_params_breaking_the_schema_list_every_error(http: TestClient, cluster: Cluster, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "params": {"n": "x", "cc": 1}})
    body = _problem(r, 422, "invalid-params")
    pointers = sorted(e["pointer"] for e in body["errors"])
    assert pointers == ["/params", "/params", "/params/n"]
    assert any("'to' is a required property" in e["detail"] for e in body["errors"])
    assert list_objects(cluster, ns, "tasks") == []


def test_body_that_is_not_json(http: TestClient, cluster: Cluster, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/tasks", content=b"{not json", headers={"content-type": "application/json"})
    body = _problem(r, 400, "malformed-json")
    assert "not valid JSON" in body["detail"] and "errors" not in body
    assert list_objects(cluster, ns, "tasks") == []


def test_oversize_params(http: TestClient, cluster: Cluster, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "params": {"to": "x" * 5000}})
    body = _problem(r, 413, "payload-too-large")
    assert [e["pointer"] for e in body["errors"]] == ["/params"] and "limit is 4096 bytes" in body["detail"]
    huge = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "params": {"to": "x" * 100_000}})
    body = _problem(huge, 413, "payload-too-large")  # refused on its Content-Length, before it is read
    assert [e["pointer"] for e in body["errors"]] == ["/"]
    assert "the limit is 69632 bytes" in body["detail"]  # 4096 for params + 64 KiB for the rest
    assert list_objects(cluster, ns, "tasks") == []


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        ("name", "Bad_Name", "/name"),
        ("name", "x" * 254, "/name"),
        ("generateName", "UPPER-", "/generateName"),
        ("generateName", "--", "/generateName"),  # the generated name would start with a dash
        ("labels", {"bad key!": "v"}, "/labels/bad key!"),
        ("labels", {"team": "x" * 64}, "/labels/team"),
    ],
)
def test_names_kubernetes_would_reject(
    http: TestClient, cluster: Cluster, ns: str, field: str, value: object, pointer: str
) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "params": {"to": "a"}, field: value})
    assert pointer in [e["pointer"] for e in _problem(r, 422, "invalid-request")["errors"]]
    assert list_objects(cluster, ns, "tasks") == []


def test_missing_field_and_unknown_field(http: TestClient, ns: str) -> None:
    body = _problem(http.post(f"/api/v1/namespaces/{ns}/tasks", json={"params": {}}), 422, "invalid-request")
    assert [e["pointer"] for e in body["errors"]] == ["/template"]
    body = _problem(
        http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "colour": 1}), 422, "invalid-request"
    )
    assert [e["pointer"] for e in body["errors"]] == ["/colour"]


def test_invalid_namespace_and_missing_namespace(http: TestClient) -> None:
    body = _problem(http.post("/api/v1/namespaces/Bad_NS/tasks", json={"template": "mail"}), 422, "invalid-request")
    assert [e["pointer"] for e in body["errors"]] == ["path:ns"]
    assert "'Bad_NS' is not a valid namespace name" in body["errors"][0]["detail"]
    body = _problem(http.get("/api/v1/namespaces/missing-ns/tasks/x"), 404, "not-found")
    assert "Task 'x' not found in namespace 'missing-ns'" in body["detail"]


def test_template_with_invalid_json_schema(http: TestClient, cluster: Cluster, ns: str) -> None:
    r = http.post(
        f"/api/v1/namespaces/{ns}/templates",
        json={"name": "t2", "spec": {"image": "i:1", "paramSchema": {"type": "nope"}}},
    )
    body = _problem(r, 422, "invalid-template")
    assert [e["pointer"] for e in body["errors"]][0].startswith("/spec/paramSchema")
    assert list_objects(cluster, ns, "tasktemplates")[0]["metadata"]["name"] == "mail"


def test_list_query_errors(http: TestClient) -> None:
    for query, pointer in [
        ("labelSelector=a%20b", "query:labelSelector"),
        ("sort=colour", "query:sort"),
        ("cursor=zzz", "query:cursor"),
        ("limit=100000", "query:limit"),
    ]:
        body = _problem(http.get(f"/api/v1/tasks?{query}"), 422, "invalid-request")
        assert [e["pointer"] for e in body["errors"]] == [pointer], query


def _template_cr(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = cluster.custom().get_namespaced_custom_object(
        "kubetask.io", "v1alpha1", ns, "tasktemplates", name
    )
    return obj


def test_templates_crud(http: TestClient, cluster: Cluster, ns: str) -> None:
    spec = {"image": "i:1", "handler": "echo", "paramSchema": {"type": "object"}}
    r = http.post(f"/api/v1/namespaces/{ns}/templates", json={"name": "t3", "spec": spec})
    assert r.status_code == 201, r.text
    cr = _template_cr(cluster, ns, "t3")
    assert cr["spec"] == spec  # stored as sent
    assert (r.json()["namespace"], r.json()["name"], r.json()["spec"]) == (ns, "t3", spec)
    assert r.json()["resourceVersion"] == cr["metadata"]["resourceVersion"]

    body = _problem(http.post(f"/api/v1/namespaces/{ns}/templates", json={"name": "t3", "spec": spec}), 409, "conflict")
    assert "t3" in body["detail"] and _template_cr(cluster, ns, "t3")["spec"] == spec  # the original is kept

    r = http.put(f"/api/v1/namespaces/{ns}/templates/t3", json={"name": "t3", "spec": {**spec, "image": "i:2"}})
    assert r.status_code == 200, r.text
    assert r.json()["spec"] == _template_cr(cluster, ns, "t3")["spec"] == {**spec, "image": "i:2"}
    names = [t["name"] for t in http.get(f"/api/v1/namespaces/{ns}/templates").json()["items"]]
    assert sorted(names) == ["mail", "t3"]

    r = http.delete(f"/api/v1/namespaces/{ns}/templates/t3")
    assert (r.status_code, r.content) == (204, b"")
    left = list_objects(cluster, ns, "tasktemplates")
    assert [t["metadata"]["name"] for t in left] == ["mail"]
    body = _problem(http.get(f"/api/v1/namespaces/{ns}/templates/t3"), 404, "not-found")
    assert "TaskTemplate 't3' not found" in body["detail"]


def test_health_and_readiness(http: TestClient) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz").json()
    assert ready["database"] == "ok" and ready["kubernetes"].startswith("v1.20")
