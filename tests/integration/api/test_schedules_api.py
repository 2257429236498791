"""TaskSchedules over REST against a real cluster: create, get, list with filters, replace, delete,
suspend and resume; every bad input a 422 naming its field, with nothing created or changed."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from kubetask.testing.cluster import Cluster, create, list_objects, task, template, wait_for

SCHEMA = {
    "type": "object",
    "required": ["to"],
    "properties": {"to": {"type": "string"}, "n": {"type": "integer"}},
    "additionalProperties": False,
}
YEARLY = "0 0 1 1 *"  # never due while a test runs


@pytest.fixture
def ns(cluster: Cluster, namespace: str) -> str:
    create(cluster, namespace, "tasktemplates", template("mail", handler="echo", paramSchema=SCHEMA))
    return namespace


def _spec(**over: Any) -> dict[str, Any]:
    return {"schedule": YEARLY, "task": {"templateRef": {"name": "mail"}, "params": {"to": "ops"}}, **over}


def _body(name: str = "nightly", **over: Any) -> dict[str, Any]:
    return {"name": name, "spec": _spec(**over)}


def _url(ns: str, *parts: str) -> str:
    return "/".join([f"/api/v1/namespaces/{ns}/schedules", *parts])


def _problem(r: Any, status: int, kind: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["type"] == f"https://kubetask.io/problems/{kind}", body
    return body


def _stored(cluster: Cluster, ns: str) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in list_objects(cluster, ns, "taskschedules")}


def test_a_schedule_is_created_read_listed_by_filters_replaced_and_deleted(
    http: TestClient, cluster: Cluster, ns: str
) -> None:
    made = http.post(_url(ns), json={**_body("nightly"), "labels": {"team": "ops"}})
    assert made.status_code == 201, made.text
    assert made.json()["spec"]["schedule"] == YEARLY and made.json()["labels"] == {"team": "ops"}
    assert http.post(_url(ns), json=_body("paused", suspend=True)).status_code == 201
    stored = _stored(cluster, ns)
    assert stored["nightly"]["spec"]["task"]["params"] == {"to": "ops"}
    assert stored["nightly"]["metadata"]["labels"] == {"team": "ops"}

    one = http.get(_url(ns, "nightly")).json()
    assert (one["name"], one["uid"], one["suspended"]) == ("nightly", stored["nightly"]["metadata"]["uid"], False)

    def names(query: str) -> list[str]:
        r = http.get(_url(ns) + query)
        assert r.status_code == 200, r.text
        return [s["name"] for s in r.json()["items"]]

    assert names("") == ["nightly", "paused"]
    assert names("?labelSelector=team%3Dops") == ["nightly"]
    assert names("?labelSelector=!team") == ["paused"]
    assert names("?suspended=true") == ["paused"]
    assert names("?suspended=false&labelSelector=team") == ["nightly"]

    replaced = http.put(_url(ns, "nightly"), json=_body("nightly", schedule="30 2 * * *", timeZone="Europe/Berlin"))
    assert replaced.status_code == 200, replaced.text
    spec = _stored(cluster, ns)["nightly"]["spec"]
    assert (spec["schedule"], spec["timeZone"]) == ("30 2 * * *", "Europe/Berlin")
    assert _stored(cluster, ns)["nightly"]["metadata"].get("labels") in (None, {})  # labels are replaced too

    mismatch = _problem(http.put(_url(ns, "nightly"), json=_body("other")), 422, "invalid-schedule")
    assert [e["pointer"] for e in mismatch["errors"]] == ["/name"]
    assert _problem(http.post(_url(ns), json=_body("paused")), 409, "conflict")

    uid = stored["paused"]["metadata"]["uid"]
    owner = {"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskSchedule", "name": "paused", "uid": uid}
    run = task("paused-run", templateRef={"name": "mail"}, params={"to": "ops"})
    run["metadata"]["ownerReferences"] = [owner]
    create(cluster, ns, "tasks", run)
    assert http.delete(_url(ns, "paused")).status_code == 204
    assert sorted(_stored(cluster, ns)) == ["nightly"]
    wait_for("the run Task to go with its schedule", lambda: list_objects(cluster, ns, "tasks") == [] or None)
    assert _problem(http.get(_url(ns, "paused")), 404, "not-found")


def test_suspend_with_a_reason_then_resume(http: TestClient, cluster: Cluster, ns: str) -> None:
    assert http.post(_url(ns), json=_body()).status_code == 201

    suspended = http.post(_url(ns, "nightly", "suspend"), json={"reason": "maintenance window"})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["suspended"] is True
    spec = _stored(cluster, ns)["nightly"]["spec"]
    assert (spec["suspend"], spec["suspendReason"]) == (True, "maintenance window")

    resumed = http.post(_url(ns, "nightly", "resume"))
    assert resumed.status_code == 200 and resumed.json()["suspended"] is False
    spec = _stored(cluster, ns)["nightly"]["spec"]
    assert spec["suspend"] is False and "suspendReason" not in spec

    no_reason = http.post(_url(ns, "nightly", "suspend"))  # the body is optional
    assert no_reason.status_code == 200 and _stored(cluster, ns)["nightly"]["spec"]["suspend"] is True
    too_long = _problem(http.post(_url(ns, "nightly", "suspend"), json={"reason": "x" * 1025}), 422, "invalid-request")
    assert [e["pointer"] for e in too_long["errors"]] == ["/reason"]


@pytest.mark.usefixtures("operator")
def test_get_shows_the_status_the_operator_writes(http: TestClient, ns: str) -> None:
    assert http.post(_url(ns), json=_body()).status_code == 201

    def ready(status: str) -> dict[str, Any] | None:
        s: dict[str, Any] = http.get(_url(ns, "nightly")).json()
        return s if (s.get("ready") or {}).get("status") == status else None

    scheduling = wait_for("the schedule Ready", lambda: ready("True"))
    assert scheduling["ready"]["reason"] == "Scheduling"
    assert len(scheduling["status"]["nextRunTimes"]) == 5
    assert scheduling["status"]["activeCount"] == 0

    http.post(_url(ns, "nightly", "suspend"), json={"reason": "maintenance window"})
    paused = wait_for("the schedule suspended", lambda: ready("False"))
    assert (paused["ready"]["reason"], paused["ready"]["message"]) == ("Suspended", "maintenance window")


BAD: list[tuple[str, dict[str, Any], str, list[str]]] = [
    ("a cron that is not one", _body(schedule="every day"), "invalid-schedule", ["/spec/schedule"]),
    ("a cron that never fires", _body(schedule="0 0 31 2 *"), "invalid-schedule", ["/spec/schedule"]),
    ("an unknown time zone", _body(timeZone="Mars/Olympus"), "invalid-schedule", ["/spec/timeZone"]),
    (
        "an unknown template",
        {"name": "nightly", "spec": {"schedule": YEARLY, "task": {"templateRef": {"name": "nope"}}}},
        "unknown-template",
        ["/spec/task/templateRef/name"],
    ),
    (
        "params against the template's schema",
        {"name": "nightly", "spec": _spec(task={"templateRef": {"name": "mail"}, "params": {"n": "x"}})},
        "invalid-schedule",
        ["/spec/task/params", "/spec/task/params/n"],
    ),
    ("an unknown policy", _body(concurrencyPolicy="Sometimes"), "invalid-schedule", ["/spec/concurrencyPolicy"]),
    ("a string for a number", _body(maxMissedRuns="3"), "invalid-schedule", ["/spec/maxMissedRuns"]),
    ("no task", {"name": "nightly", "spec": {"schedule": YEARLY}}, "invalid-schedule", ["/spec/task"]),
    ("a bad name", _body("Nightly!"), "invalid-schedule", ["/name"]),
    (
        "several at once",
        {"name": "x", "labels": {"bad key!": "v"}, "spec": _spec(schedule="0 0 31 2 *", timeZone="Nowhere")},
        "invalid-schedule",
        ["/labels/bad key!", "/spec/schedule", "/spec/timeZone"],
    ),
]


@pytest.mark.parametrize(("body", "kind", "pointers"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_a_422_naming_the_field_and_creates_nothing(
    http: TestClient, cluster: Cluster, ns: str, body: dict[str, Any], kind: str, pointers: list[str]
) -> None:
    problem = _problem(http.post(_url(ns), json=body), 422, kind)
    assert sorted(e["pointer"] for e in problem["errors"]) == pointers
    assert all(e["detail"] for e in problem["errors"])
    assert list_objects(cluster, ns, "taskschedules") == []


def test_a_bad_replace_changes_nothing_and_missing_schedules_are_404(
    http: TestClient, cluster: Cluster, ns: str
) -> None:
    assert http.post(_url(ns), json=_body()).status_code == 201
    before = _stored(cluster, ns)["nightly"]

    bad = _problem(http.put(_url(ns, "nightly"), json=_body(schedule="0 0 30 2 *")), 422, "invalid-schedule")
    assert "never fires" in bad["errors"][0]["detail"] and bad["errors"][0]["pointer"] == "/spec/schedule"
    assert _stored(cluster, ns)["nightly"]["spec"] == before["spec"]  # (the operator may have written the status)

    selector = _problem(http.get(_url(ns) + "?labelSelector=a%20in%20b"), 422, "invalid-request")
    assert [e["pointer"] for e in selector["errors"]] == ["query:labelSelector"]

    for method, path in [
        ("GET", _url(ns, "ghost")),
        ("PUT", _url(ns, "ghost")),
        ("DELETE", _url(ns, "ghost")),
        ("POST", _url(ns, "ghost", "suspend")),
        ("POST", _url(ns, "ghost", "resume")),
    ]:
        r = http.request(method, path, json=_body("ghost") if method == "PUT" else None)
        assert "TaskSchedule 'ghost' not found" in _problem(r, 404, "not-found")["detail"], (method, path)
    assert sorted(_stored(cluster, ns)) == ["nightly"]


def test_an_integral_float_is_the_integer_it_is_and_a_fraction_is_refused(
    http: TestClient, cluster: Cluster, ns: str
) -> None:
    made = http.post(
        _url(ns),
        json=_body(successfulHistoryLimit=5.0, task={"templateRef": {"name": "mail"}, "params": {"to": "a", "n": 2.0}}),
    )
    assert made.status_code == 201, made.text
    stored = _stored(cluster, ns)["nightly"]["spec"]
    assert stored["successfulHistoryLimit"] == 5 and isinstance(stored["successfulHistoryLimit"], int)

    half = _problem(http.post(_url(ns), json=_body("half", maxMissedRuns=1.5)), 422, "invalid-schedule")
    assert [e["pointer"] for e in half["errors"]] == ["/spec/maxMissedRuns"]
    assert sorted(_stored(cluster, ns)) == ["nightly"]
