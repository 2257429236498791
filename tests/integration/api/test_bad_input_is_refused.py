"""Bad input: each a 4xx problem-details answer naming the field, and nothing is created."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from kubetask.testing.cluster import Cluster, create, template

SCHEMA = {"type": "object", "required": ["to"], "properties": {"to": {"type": "string"}, "n": {"type": "integer"}},
          "additionalProperties": False}  # fmt: skip


def _tasks(cluster: Cluster, ns: str) -> list[Any]:
    items: list[Any] = cluster.custom().list_namespaced_custom_object("kubetask.io", "v1alpha1", ns, "tasks")["items"]
    return items


@pytest.fixture
def ns(cluster: Cluster, namespace: str) -> str:
    create(cluster, namespace, "tasktemplates", template("mail", handler="echo", paramSchema=SCHEMA))
    return namespace


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["type"].startswith("https://kubetask.io/problems/") and body["detail"]
    return body


def test_unknown_template(http: TestClient, cluster: Cluster, ns: str) -> None:
    body = _problem(http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "nope"}), 422)
    assert body["errors"] == [{"pointer": "/template", "detail": body["errors"][0]["detail"]}]
    assert "'nope' not found" in body["detail"]
    assert _tasks(cluster, ns) == []


def test_params_breaking_the_schema_list_every_error(http: TestClient, cluster: Cluster, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "params": {"n": "x", "cc": 1}})
    body = _problem(r, 422)
    assert body["type"].endswith("/invalid-params")
    pointers = sorted(e["pointer"] for e in body["errors"])
    assert pointers == ["/params", "/params", "/params/n"]
    assert any("'to' is a required property" in e["detail"] for e in body["errors"])
    assert _tasks(cluster, ns) == []


def test_body_that_is_not_json(http: TestClient, cluster: Cluster, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/tasks", content=b"{not json", headers={"content-type": "application/json"})
    assert "not valid JSON" in _problem(r, 400)["detail"]
    assert _tasks(cluster, ns) == []


def test_oversize_params(http: TestClient, cluster: Cluster, ns: str) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "params": {"to": "x" * 5000}})
    body = _problem(r, 413)
    assert body["errors"][0]["pointer"] == "/params" and "limit is 4096 bytes" in body["detail"]
    huge = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "params": {"to": "x" * 100_000}})
    _problem(huge, 413)
    assert _tasks(cluster, ns) == []


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        ("name", "Bad_Name", "/name"),
        ("name", "x" * 254, "/name"),
        ("generateName", "UPPER-", "/generateName"),
        ("labels", {"bad key!": "v"}, "/labels/bad key!"),
        ("labels", {"team": "x" * 64}, "/labels/team"),
    ],
)
def test_names_kubernetes_would_reject(
    http: TestClient, cluster: Cluster, ns: str, field: str, value: object, pointer: str
) -> None:
    r = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "params": {"to": "a"}, field: value})
    assert pointer in [e["pointer"] for e in _problem(r, 422)["errors"]]
    assert _tasks(cluster, ns) == []


def test_missing_field_and_unknown_field(http: TestClient, ns: str) -> None:
    body = _problem(http.post(f"/api/v1/namespaces/{ns}/tasks", json={"params": {}}), 422)
    assert body["errors"][0]["pointer"] == "/template"
    body = _problem(http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "mail", "colour": 1}), 422)
    assert body["errors"][0]["pointer"] == "/colour"


def test_invalid_namespace_and_missing_namespace(http: TestClient) -> None:
    _problem(http.post("/api/v1/namespaces/Bad_NS/tasks", json={"template": "mail"}), 422)
    _problem(http.get("/api/v1/namespaces/missing-ns/tasks/x"), 404)


def test_template_with_invalid_json_schema(http: TestClient, cluster: Cluster, ns: str) -> None:
    r = http.post(
        f"/api/v1/namespaces/{ns}/templates",
        json={"name": "t2", "spec": {"image": "i:1", "paramSchema": {"type": "nope"}}},
    )
    body = _problem(r, 422)
    assert body["errors"][0]["pointer"].startswith("/spec/paramSchema")
    assert cluster.custom().list_namespaced_custom_object("kubetask.io", "v1alpha1", ns, "tasktemplates")[
        "items"][0]["metadata"]["name"] == "mail"  # fmt: skip


def test_list_query_errors(http: TestClient) -> None:
    assert _problem(http.get("/api/v1/tasks?labelSelector=a%20b"), 422)["errors"][0]["pointer"] == "query:labelSelector"
    assert _problem(http.get("/api/v1/tasks?sort=colour"), 422)["errors"][0]["pointer"] == "query:sort"
    assert _problem(http.get("/api/v1/tasks?cursor=zzz"), 422)["errors"][0]["pointer"] == "query:cursor"
    assert _problem(http.get("/api/v1/tasks?limit=100000"), 422)["errors"][0]["pointer"] == "query:limit"


def test_templates_crud(http: TestClient, ns: str) -> None:
    spec = {"image": "i:1", "handler": "echo", "paramSchema": {"type": "object"}}
    assert http.post(f"/api/v1/namespaces/{ns}/templates", json={"name": "t3", "spec": spec}).status_code == 201
    _problem(http.post(f"/api/v1/namespaces/{ns}/templates", json={"name": "t3", "spec": spec}), 409)
    r = http.put(f"/api/v1/namespaces/{ns}/templates/t3", json={"name": "t3", "spec": {**spec, "image": "i:2"}})
    assert r.status_code == 200 and r.json()["spec"]["image"] == "i:2"
    names = [t["name"] for t in http.get(f"/api/v1/namespaces/{ns}/templates").json()["items"]]
    assert sorted(names) == ["mail", "t3"]
    assert http.delete(f"/api/v1/namespaces/{ns}/templates/t3").status_code == 204
    _problem(http.get(f"/api/v1/namespaces/{ns}/templates/t3"), 404)


def test_health_and_readiness(http: TestClient) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz").json()
    assert ready["database"] == "ok" and ready["kubernetes"].startswith("v1.20")
