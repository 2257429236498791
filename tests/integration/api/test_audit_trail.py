"""The audit trail on the real apiserver with real ServiceAccount tokens, the app in process with
authentication on: mutating requests leave a row with their answer, refused ones too (no token,
a garbage token, a missing permission), with the request id the client sent or the API made; the
audit listing filters and pages, is refused without `list auditevents` and shows a caller granted
it in one namespace that namespace's rows only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.testing.cluster import Cluster, service_account_token, wait_for
from kubetask.testing.rbac import grant_in_namespace
from kubetask.testing.tokens import admin_headers, bearer

ADMIN = "admin"  # the suite's kubeconfig user (DIR/tokens.csv)
SPEC = {"image": "kubetask/executor:dev", "handler": "echo"}


@pytest.fixture
def http(cluster: Cluster, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ApiSettings(database_url=f"sqlite:///{tmp_path / 'audit.db'}"), api=cluster.api())
    with TestClient(app, raise_server_exceptions=False, headers=admin_headers(cluster)) as client:
        yield client


def _rows(http: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = http.get("/api/v1/audit", params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _by_request(http: TestClient, *settled: str) -> dict[str, dict[str, Any]]:
    """The rows by request id, once those of `settled` are there with their answers (written after
    the answer, by the trail's writer thread)."""

    def rows() -> dict[str, dict[str, Any]] | None:
        got = {row["requestId"]: row for row in _rows(http, limit=500)}
        return got if all(got.get(rid, {}).get("status") for rid in settled) else None

    return wait_for(f"the audit rows of {settled}", rows, 30)


def test_mutating_and_refused_requests_leave_rows_and_reads_do_not(
    cluster: Cluster, namespace: str, http: TestClient
) -> None:
    ns = f"/api/v1/namespaces/{namespace}"
    nobody = bearer(service_account_token(cluster, namespace, "nobody"))
    sent = {
        "made": http.post(f"{ns}/templates", json={"name": "echo", "spec": SPEC}, headers={"X-Request-Id": "made"}),
        "bad": http.post(f"{ns}/templates", json={"name": "Bad_Name", "spec": SPEC}, headers={"X-Request-Id": "bad"}),
        "read": http.get(f"{ns}/templates/echo", headers={"X-Request-Id": "read"}),
        "forbidden": http.delete(f"{ns}/templates/echo", headers={**nobody, "X-Request-Id": "forbidden"}),
        "forbidden-read": http.get(f"{ns}/tasks", headers={**nobody, "X-Request-Id": "forbidden-read"}),
        "no-token": http.post(f"{ns}/tasks", json={}, headers={"Authorization": "", "X-Request-Id": "no-token"}),
        "garbage": http.get("/api/v1/tasks", headers={**bearer("garbage"), "X-Request-Id": "garbage"}),
    }
    assert {k: r.status_code for k, r in sent.items()} == {
        "made": 201,
        "bad": 422,
        "read": 200,
        "forbidden": 403,
        "forbidden-read": 403,
        "no-token": 401,
        "garbage": 401,
    }
    assert all(r.headers["x-request-id"] == k for k, r in sent.items())  # echoed
    rows = _by_request(http, *(k for k in sent if k != "read"))
    assert "read" not in rows  # a read let through is not audited
    sa = f"system:serviceaccount:{namespace}:nobody"
    got = {
        k: (r["user"], r["verb"], r["resource"], r["namespace"], r["name"], r["decision"], r["status"])
        for k, r in rows.items()
        if k in sent
    }
    assert got == {
        "made": (ADMIN, "create", "tasktemplates", namespace, "echo", "allowed", 201),  # the name from Location
        "bad": (ADMIN, "create", "tasktemplates", namespace, None, "allowed", 422),
        "forbidden": (sa, "delete", "tasktemplates", namespace, "echo", "forbidden", 403),
        "forbidden-read": (sa, "list", "tasks", namespace, None, "forbidden", 403),
        "no-token": (None, "create", "tasks", namespace, None, "unauthenticated", 401),
        "garbage": (None, "list", "tasks", None, None, "unauthenticated", 401),
    }
    made = rows["made"]
    assert made["operation"] == "POST /api/v1/namespaces/{ns}/templates"
    assert "system:masters" in made["groups"] and made["source"] == "testclient"
    assert rows["forbidden"]["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"] + [
        "system:authenticated"
    ]
    # a request without an id of its own gets one, echoed and in its row
    r = http.delete(f"{ns}/templates/echo", headers={"X-Request-Id": "has space"})
    assert r.status_code == 204 and len(made_id := r.headers["x-request-id"]) == 32
    assert _by_request(http, made_id)[made_id]["status"] == 204


def test_the_listing_filters_pages_and_obeys_rbac(cluster: Cluster, namespace: str, http: TestClient) -> None:
    ns = f"/api/v1/namespaces/{namespace}"
    for i in range(5):
        r = http.post(f"{ns}/templates", json={"name": f"t{i}", "spec": SPEC}, headers={"X-Request-Id": f"t{i}"})
        assert r.status_code == 201, r.text
    assert http.delete(f"{ns}/templates/t0", headers={"X-Request-Id": "d0"}).status_code == 204
    assert http.get("/api/v1/tasks", headers=bearer("garbage")).status_code == 401  # a row of no namespace
    mine = [r["requestId"] for r in _rows(http, namespace=namespace)]
    assert mine == ["d0", "t4", "t3", "t2", "t1", "t0"]
    assert [r["requestId"] for r in _rows(http, namespace=namespace, verb="delete")] == ["d0"]
    assert {r["user"] for r in _rows(http, namespace=namespace, user=ADMIN)} == {ADMIN}
    assert _rows(http, namespace=namespace, user="someone-else") == []
    t2 = next(r for r in _rows(http, namespace=namespace) if r["requestId"] == "t2")["time"]
    assert [r["requestId"] for r in _rows(http, namespace=namespace, until=t2)] == ["t1", "t0"]
    assert [r["requestId"] for r in _rows(http, namespace=namespace, since=t2)] == ["d0", "t4", "t3", "t2"]
    # pages of 2 along the cursor
    pages, cursor = [], None
    while True:
        more: dict[str, str] = {"cursor": cursor} if cursor else {}
        page = http.get("/api/v1/audit", params={"namespace": namespace, "limit": 2, **more})
        pages.append([r["requestId"] for r in page.json()["items"]])
        cursor = page.json()["nextCursor"]
        if not cursor:
            break
    assert pages == [["d0", "t4"], ["t3", "t2"], ["t1", "t0"]]
    bad = http.get("/api/v1/audit", params={"cursor": "nope", "since": "yesterday"})
    assert bad.status_code == 422 and {e["pointer"] for e in bad.json()["errors"]} >= {"query:since"}
    # RBAC: an editor of the namespace may not read the trail; an auditor of it sees its rows only
    editor = service_account_token(cluster, namespace, "editor")
    grant_in_namespace(cluster, namespace, "editor", ["tasks", "tasktemplates"], ["get", "list", "create", "delete"])
    user = f"system:serviceaccount:{namespace}:editor"
    for params, where in [({}, "at the cluster scope"), ({"namespace": namespace}, f'in the namespace "{namespace}"')]:
        r = http.get("/api/v1/audit", params=params, headers=bearer(editor))
        assert r.status_code == 403, r.text
        want = f'User "{user}" cannot list resource "auditevents" in API group "kubetask.io" {where}'
        assert r.json()["detail"] == want
    auditor = service_account_token(cluster, namespace, "auditor")
    grant_in_namespace(cluster, namespace, "auditor", ["auditevents"], ["list"])
    seen = http.get("/api/v1/audit", params={"limit": 500}, headers=bearer(auditor)).json()["items"]
    assert seen and {r["namespace"] for r in seen} == {namespace}  # no other namespace's, no cluster-wide rows
    assert {"d0", "t0"} <= {r["requestId"] for r in seen}
    assert http.get("/api/v1/audit", params={"namespace": "default"}, headers=bearer(auditor)).status_code == 403
