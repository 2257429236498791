"""`GET /metrics` of the API: each request counted and timed under its route's template (never the
path sent, so names add no series), its method and status code; unmatched paths under one label;
the apiserver requests the API made (here refused: code 0) and the build info alongside."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from kubetask.api.app import create_app
from kubetask.api.metrics import UNMATCHED
from kubetask.api.settings import ApiSettings

_NOWHERE = client.Configuration(host="http://127.0.0.1:9")  # refused at once: no cluster here
TASK = "/api/v1/namespaces/{ns}/tasks/{name}"


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    # auth none: no apiserver here to review tokens
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'm.db'}", kubernetes_timeout_seconds=2, auth="none")
    with TestClient(create_app(settings, api=client.ApiClient(_NOWHERE)), raise_server_exceptions=False) as c:
        yield c


def _samples(http: TestClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    r = http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_requests_are_counted_by_route_template_method_and_code(http: TestClient) -> None:
    for name in ("one", "two", "three"):
        assert http.get(f"/api/v1/namespaces/ns1/tasks/{name}").status_code == 503  # the apiserver is refused
    assert http.get("/healthz").status_code == 200
    assert http.get("/nowhere/at/all").status_code == 404
    assert http.delete("/healthz").status_code == 405
    s = _samples(http)
    counted = s["kubetask_api_requests_total"]
    assert counted[(("code", "503"), ("method", "GET"), ("route", TASK))] == 3
    assert counted[(("code", "200"), ("method", "GET"), ("route", "/healthz"))] == 1
    assert counted[(("code", "404"), ("method", "GET"), ("route", UNMATCHED))] == 1
    assert counted[(("code", "405"), ("method", "DELETE"), ("route", "/healthz"))] == 1
    assert not [k for k in counted if any("one" in v or "ns1" in v for _, v in k)]  # no path, name or namespace
    timed = s["kubetask_api_request_duration_seconds_count"]
    assert timed[(("method", "GET"), ("route", TASK))] == 3
    assert s["kubetask_apiserver_requests_total"][(("code", "0"), ("resource", "tasks"), ("verb", "get"))] == 3
    (build,) = s["kubetask_build_info"]
    assert dict(build)["component"] == "api"


def test_metrics_is_not_in_the_openapi_document(http: TestClient) -> None:
    assert "/metrics" not in http.get("/openapi.json").json()["paths"]
