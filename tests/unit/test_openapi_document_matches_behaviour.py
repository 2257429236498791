"""The OpenAPI document declares what the API does: problem+json errors with their schema, 503s
with Retry-After, Kubernetes name rules on path parameters, the page-size setting on `limit`,
RFC 3339 date-times; and a 405 names every method of its path in `Allow`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kubernetes import client

from kubetask.api.app import create_app
from kubetask.api.problems import MEDIA_TYPE, Problem, ProblemError
from kubetask.api.settings import ApiSettings
from kubetask.api.validation import DNS_LABEL, DNS_SUBDOMAIN, MAX_NAME, MAX_NAMESPACE

# no call reaches the cluster here: the document and the 405s need neither the apiserver nor SQL
_NOWHERE = client.Configuration(host="http://127.0.0.1:9")


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        ApiSettings(database_url=f"sqlite:///{tmp_path / 'doc.db'}", max_page_size=123, auth="none"),  # no reviews
        api=client.ApiClient(_NOWHERE),
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def doc(http: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = http.get("/openapi.json").json()
    return document


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield f"{method.upper()} {path}", op


def test_every_error_response_is_a_problem_and_every_429_and_503_says_when_to_retry(doc: dict[str, Any]) -> None:
    errors = 0
    for label, op in _operations(doc):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            errors += 1
            assert response["content"] == {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}, label
            assert ("Retry-After" in response.get("headers", {})) == (status in ("429", "503")), (label, status)
    assert errors > 40
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_every_operation_but_liveness_declares_its_503(doc: dict[str, Any]) -> None:
    without = sorted(label for label, op in _operations(doc) if "503" not in op["responses"])
    assert without == ["GET /healthz"]


def test_a_problem_body_matches_its_schema() -> None:
    body = ProblemError(422, "invalid-request", "Request is invalid", "bad").body("/x")
    assert Problem.model_validate(body).model_dump(exclude_none=True) == body
    assert "'type': 'null'" not in str(Problem.model_json_schema())


def test_path_parameters_carry_the_kubernetes_name_rules(doc: dict[str, Any]) -> None:
    expected = {"ns": (DNS_LABEL, MAX_NAMESPACE), "name": (DNS_SUBDOMAIN, MAX_NAME)}
    seen = set()
    for label, op in _operations(doc):
        for p in op.get("parameters", []):
            if p["in"] == "path":
                seen.add(p["name"])
                if p["name"] == "n":  # an attempt's number, not a name
                    assert (p["schema"]["type"], p["schema"]["minimum"]) == ("integer", 1), label
                    continue
                assert (p["schema"]["pattern"], p["schema"]["maxLength"]) == expected[p["name"]], label
    assert seen == {"ns", "name", "n"}


def test_query_parameters_are_never_null_and_limit_is_the_page_size_setting(doc: dict[str, Any]) -> None:
    limits = 0
    for label, op in _operations(doc):
        for p in op.get("parameters", []):
            assert "'type': 'null'" not in str(p["schema"]), (label, p["name"])
            if p["name"] == "limit":
                limits += 1
                assert p["schema"]["maximum"] == 123, label
    assert limits == 6  # every paginated list: a schedule's runs since 0005, the audit trail since 0008


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/healthz", "GET"),
        ("/api/v1/namespaces/n/templates/t", "DELETE, GET, PUT"),
        ("/api/v1/namespaces/n/tasks", "GET, POST"),
        ("/api/v1/namespaces/n/tasks/t", "DELETE, GET"),
    ],
)
def test_a_405_allows_every_method_of_its_path(http: TestClient, path: str, allow: str) -> None:
    r = http.request("TRACE", path)
    assert (r.status_code, r.headers["allow"], r.headers["content-type"]) == (405, allow, MEDIA_TYPE)


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("createdAfter=0.5", "query:createdAfter"),
        ("createdBefore=2026-01-02", "query:createdBefore"),
        ("finishedAfter=2026-01-02T03:04:05", "query:finishedAfter"),
        ("phase=Nope", "query:phase/0"),
    ],
)
def test_list_parameters_the_schema_refuses_are_refused(http: TestClient, query: str, pointer: str) -> None:
    r = http.get(f"/api/v1/tasks?{query}")
    assert r.status_code == 422, r.text
    assert [e["pointer"] for e in r.json()["errors"]] == [pointer]


@pytest.mark.parametrize(
    ("path", "pointers"),
    [
        ("/api/v1/namespaces/Bad_NS/tasks/x", ["path:ns"]),
        ("/api/v1/namespaces/n/tasks/Bad_Name", ["path:name"]),
        ("/api/v1/namespaces/-n/templates/a..b", ["path:ns", "path:name"]),
        (f"/api/v1/namespaces/{'n' * 64}/tasks", ["path:ns"]),
        (f"/api/v1/namespaces/n/tasks/{'t' * 254}", ["path:name"]),
    ],
)
def test_names_kubernetes_would_refuse_are_422s_before_any_call(
    http: TestClient, path: str, pointers: list[str]
) -> None:
    r = http.get(path)
    assert r.status_code == 422, r.text
    assert [e["pointer"] for e in r.json()["errors"]] == pointers
    assert all(re.search("not a valid (namespace )?name|at most 253", e["detail"]) for e in r.json()["errors"])
