"""GET …/schedules/{name}/runs answers from SQL alone: runs whose Tasks are gone are still listed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from kubernetes import client
from sqlalchemy.orm import Session

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.history import snapshot
from kubetask.store import make_engine, migrate
from kubetask.store.writer import mark_deleted, upsert_many
from tests.integration.store.test_schedules_and_their_runs_in_the_mirror import _run

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def http(database_url: str) -> Iterator[TestClient]:
    engine = make_engine(database_url)
    migrate(engine)
    phases = ["Succeeded", "Failed", "Succeeded", "Cancelled", "Succeeded"]
    bodies = [_run("nightly", "uid-a", T0 + timedelta(minutes=5 * i), p) for i, p in enumerate(phases)]
    with Session(engine) as s, s.begin():
        upsert_many(s, [snapshot(b) for b in bodies])
        mark_deleted(s, bodies[0]["metadata"]["uid"], T0 + timedelta(hours=1))  # the history limit deleted it
    app = create_app(ApiSettings(migrate=False, auth="none"), engine=engine, api=client.ApiClient())  # no cluster
    with TestClient(app) as c:
        yield c
    engine.dispose()


def test_runs_come_newest_first_in_pages_with_the_success_rate_and_deleted_ones_kept(http: TestClient) -> None:
    url = "/api/v1/namespaces/ns/schedules/nightly/runs"
    first = http.get(url, params={"limit": 3})
    assert first.status_code == 200, first.text
    body = first.json()
    assert [r["phase"] for r in body["items"]] == ["Succeeded", "Cancelled", "Succeeded"]
    assert (body["total"], body["successRate"]) == (5, pytest.approx(0.75))
    rest = http.get(url, params={"limit": 3, "cursor": body["nextCursor"]}).json()
    assert [(r["phase"], r["deleted"]) for r in rest["items"]] == [("Failed", False), ("Succeeded", True)]
    assert rest["nextCursor"] is None


def test_a_schedule_without_history_is_404_and_a_bad_cursor_422(http: TestClient) -> None:
    assert http.get("/api/v1/namespaces/ns/schedules/never/runs").status_code == 404
    bad = http.get("/api/v1/namespaces/ns/schedules/nightly/runs", params={"cursor": "xyz"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "query:cursor"
