"""The API's reviews against the real apiserver, with real ServiceAccount tokens: a review that cannot
be made is a 503 (never an answer); a revoked RoleBinding is obeyed within the cache time; 1000
distinct garbage tokens cost a bounded number of TokenReviews, counted in the apiserver's audit
log; Tasks made through the API say who asked, and with impersonation the apiserver sees the caller."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.testing.cluster import Cluster, create, service_account_token, template, wait_for
from kubetask.testing.rbac import grant_in_namespace
from kubetask.testing.tokens import admin_token, bearer

AGENT = "kubetask-auth-review-test"
SLACK = 5  # seconds past the cache time a revocation may take to show (the apiserver's RBAC cache)


def _app(cluster: Cluster, tmp_path: Path, **settings: Any) -> TestClient:
    api = cluster.api()
    api.user_agent = AGENT
    app = create_app(ApiSettings(database_url=f"sqlite:///{tmp_path / 'auth.db'}", **settings), api=api)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def http(cluster: Cluster, tmp_path: Path) -> Iterator[TestClient]:
    with _app(cluster, tmp_path) as client:
        yield client


def test_a_review_that_cannot_be_made_is_a_503_never_an_answer(cluster: Cluster, tmp_path: Path) -> None:
    token = admin_token(cluster)
    with socket.socket() as closed, socket.socket() as silent:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: a connect is refused
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections accepted by the kernel, never answered: a hung apiserver
        for port, says in ((closed, "Kubernetes is unreachable"), (silent, "did not answer within 1 s")):
            api = cluster.api()
            api.configuration.refresh_api_key_hook = None  # the kubeconfig loader's hook resets the host
            api.configuration.host = f"https://127.0.0.1:{port.getsockname()[1]}"
            app = create_app(
                ApiSettings(database_url=f"sqlite:///{tmp_path / 'x.db'}", kubernetes_timeout_seconds=1), api=api
            )
            with TestClient(app, raise_server_exceptions=False) as client:
                for path in ("/api/v1/tasks", "/api/v1/namespaces/default/tasks", "/api/v1/stats"):
                    r = client.get(path, headers=bearer(token))
                    assert r.status_code == 503, r.text
                    assert r.headers["content-type"].startswith("application/problem+json")
                    assert r.headers["retry-after"].isdigit()
                    assert says in r.json()["detail"], r.json()
                assert client.get("/api/v1/tasks").status_code == 401  # no token: nothing to review
                assert client.get("/healthz").status_code == 200


def test_no_token_and_a_garbage_token_are_401s_that_ask_for_a_bearer(http: TestClient) -> None:
    for headers in ({}, bearer("garbage"), {"Authorization": "Basic YTpi"}):
        r = http.get("/api/v1/namespaces/default/tasks", headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["type"].endswith("/unauthorized")
    docs = ("/docs", "/docs/oauth2-redirect", "/redoc", "/static/vendor/redoc-2.5.2/redoc.standalone.js")
    for tokenless in ("/healthz", "/openapi.json", "/metrics", *docs):
        assert http.get(tokenless).status_code == 200, tokenless


def test_revoking_a_rolebinding_takes_effect_within_the_cache_time(
    cluster: Cluster, namespace: str, http: TestClient
) -> None:
    token = service_account_token(cluster, namespace, "reader")
    grant_in_namespace(cluster, namespace, "reader", ["tasks", "tasktemplates"], ["get", "list"])
    user = f"system:serviceaccount:{namespace}:reader"
    assert http.get(f"/api/v1/namespaces/{namespace}/tasks", headers=bearer(token)).status_code == 200
    r = http.get("/api/v1/namespaces/default/tasks", headers=bearer(token))
    assert r.status_code == 403, r.text
    assert r.json()["detail"] == (
        f'User "{user}" cannot list resource "tasks" in API group "kubetask.io" in the namespace "default"'
    )
    r = http.post(f"/api/v1/namespaces/{namespace}/tasks", json={"template": "x"}, headers=bearer(token))
    assert r.status_code == 403
    assert 'cannot create resource "tasks"' in r.json()["detail"]

    cluster.rbac().delete_namespaced_role_binding("reader", namespace)
    revoked = time.monotonic()
    cache = ApiSettings().auth_cache_seconds
    wait_for(
        "the revocation obeyed",
        lambda: http.get(f"/api/v1/namespaces/{namespace}/tasks", headers=bearer(token)).status_code == 403,
        timeout=cache + SLACK,
        interval=0.5,
    )
    assert time.monotonic() - revoked <= cache + SLACK


def test_a_thousand_garbage_tokens_cost_a_bounded_number_of_token_reviews(cluster: Cluster, tmp_path: Path) -> None:
    rate = 5.0  # reviews per second in total: a bucket of 25
    audit = cluster.audit()
    with _app(cluster, tmp_path, auth_reviews_per_second=rate) as client:
        mark = audit.mark()
        started = time.monotonic()
        statuses = [client.get("/api/v1/tasks", headers=bearer(f"garbage-{i:04d}")).status_code for i in range(1000)]
        elapsed = time.monotonic() - started
        reviews = client.app.state.reviewer.reviews  # type: ignore[attr-defined]
    cluster.audit_sync()
    counted = audit.requests(since=mark, verb="create", resource="tokenreviews", user_agent=AGENT)
    bound = rate * 5 + rate * elapsed + 1  # the bucket, and what it refilled meanwhile
    assert len(counted) == reviews
    assert len(counted) <= bound, (len(counted), elapsed)
    assert statuses.count(401) == reviews  # each reviewed garbage token is refused; none is allowed
    assert set(statuses) <= {401, 503}
    assert statuses.count(503) >= 1000 - bound


def _task(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = cluster.custom().get_namespaced_custom_object("kubetask.io", "v1alpha1", ns, "tasks", name)
    return obj


def test_tasks_made_through_the_api_say_who_asked_and_impersonation_shows_the_caller(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo", paramSchema={"type": "object"}))
    token = service_account_token(cluster, namespace, "submitter")
    grant_in_namespace(cluster, namespace, "submitter", ["tasks", "tasktemplates"], ["get", "list", "create"])
    user = f"system:serviceaccount:{namespace}:submitter"
    audit = cluster.audit()
    mark = audit.mark()
    for impersonate in (False, True):
        with _app(cluster, tmp_path, impersonate=impersonate) as client:
            name = f"by-{str(impersonate).lower()}"
            body = {"template": "echo", "params": {}, "name": name}
            r = client.post(f"/api/v1/namespaces/{namespace}/tasks", json=body, headers=bearer(token))
            assert r.status_code == 201, r.text
            assert _task(cluster, namespace, name)["metadata"]["annotations"]["kubetask.io/submitted-by"] == user
    cluster.audit_sync()
    creators = {}
    for line in audit.path.read_text().splitlines():
        event = json.loads(line) if line.strip() else {}
        ref = event.get("objectRef") or {}
        if (
            event.get("stage") == "ResponseComplete"
            and event.get("verb") == "create"
            and ref.get("namespace") == namespace
        ):
            if ref.get("resource") == "tasks":
                creators[ref.get("name")] = (event.get("impersonatedUser") or {}).get("username")
    assert creators == {"by-false": None, "by-true": user}
    assert mark < audit.mark()
