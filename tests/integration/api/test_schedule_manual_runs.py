"""A schedule's manual runs over REST and the CLI, on the real cluster: trigger now, backfill a range, preview.

Schedules here are suspended (the controller starts nothing; manual runs still go) and their runs nap
for minutes, so a run stays active whether or not the session's operator runs. Creates are counted
in the apiserver's audit log (Task creates answered 201), never by listing Tasks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import Result

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.history import snapshot
from kubetask.models import GROUP, VERSION
from kubetask.store import make_engine
from kubetask.store.writer import mark_deleted, upsert_many
from kubetask.testing.cluster import Cluster, OperatorProcess, create, get_task, list_objects, template, wait_for
from kubetask.testing.tokens import admin_headers

NAP_PARAMS = {"type": "object", "properties": {"seconds": {"type": "number"}}}
HOURLY = "0 * * * *"


@dataclass
class Api:
    http: TestClient
    database_url: str
    ns: str

    def url(self, name: str, action: str) -> str:
        return f"/api/v1/namespaces/{self.ns}/schedules/{name}/{action}"


@pytest.fixture
def api(cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[Api]:
    """The API in process on a SQLite file of the test's own (history is written there by hand)."""
    url = f"sqlite:///{tmp_path / 'kubetask.db'}"
    create(cluster, namespace, "tasktemplates", template("nap", handler="sleep", paramSchema=NAP_PARAMS))
    app = create_app(ApiSettings(database_url=url), api=cluster.api())
    with TestClient(app, raise_server_exceptions=False, headers=admin_headers(cluster)) as http:
        yield Api(http, url, namespace)


def _schedule(cluster: Cluster, ns: str, name: str, schedule: str = HOURLY, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TaskSchedule",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "suspend": True,
            "task": {"templateRef": {"name": "nap"}, "params": {"seconds": 600}},
            **spec,
        },
    }
    return create(cluster, ns, "taskschedules", body)


def _created(cluster: Cluster, ns: str, since: int = 0) -> list[str]:
    """Names of the Task creates answered 201 in `ns` (the audit log's oracle)."""
    cluster.audit_sync()
    return [
        r.name for r in cluster.audit().requests(since=since, verb="create", resource="tasks", namespace=ns, code=201)
    ]


def _attempts(cluster: Cluster, ns: str, since: int = 0) -> int:
    """Task creates in `ns` whatever their answer: a refused request must not even try."""
    cluster.audit_sync()
    return len(cluster.audit().requests(since=since, verb="create", resource="tasks", namespace=ns))


def _hours(start: datetime, end: datetime) -> list[datetime]:
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    out = []
    while first <= end:
        out.append(first)
        first += timedelta(hours=1)
    return out


def _names(name: str, instants: list[datetime]) -> list[str]:
    return [f"{name}-{i:%Y%m%d%H%M%S}" for i in instants]


def _z(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _listed(runs: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in runs]


# -- backfill --------------------------------------------------------------------------------


def test_a_backfill_run_twice_creates_each_instant_once(api: Api, cluster: Cluster) -> None:
    _schedule(cluster, api.ns, "hourly")
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    start = end - timedelta(hours=4, minutes=30)
    expected = _names("hourly", _hours(start, end))
    assert len(expected) in (4, 5)
    body = {"from": _z(start), "to": _z(end)}

    first = api.http.post(api.url("hourly", "backfill"), json=body)
    assert first.status_code == 201, first.text
    assert first.json()["concurrency"] == "Allow"
    assert _listed(first.json()["created"]) == expected
    mark = cluster.audit().mark()
    again = api.http.post(api.url("hourly", "backfill"), json=body)
    assert again.status_code == 200, again.text
    assert again.json()["created"] == [] and _listed(again.json()["skippedExisting"]) == expected

    assert sorted(_created(cluster, api.ns)) == expected  # each once, by the first call
    assert _attempts(cluster, api.ns, since=mark) == 0  # the second did not even try
    for run in (get_task(cluster, api.ns, n) for n in expected):
        assert run["metadata"]["labels"]["kubetask.io/trigger"] == "backfill"
        assert run["metadata"]["ownerReferences"][0]["name"] == "hourly"


def test_a_backfill_skips_instants_whose_run_is_gone_but_in_history(api: Api, cluster: Cluster) -> None:
    _schedule(cluster, api.ns, "kept")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    body = {"from": _z(end - timedelta(hours=1)), "to": _z(end)}
    first = api.http.post(api.url("kept", "backfill"), json=body).json()
    older, newer = _listed(first["created"])
    gone = get_task(cluster, api.ns, older)
    engine = make_engine(api.database_url)
    with Session(engine) as s, s.begin():  # as the mirror holds a run the history limit deleted
        upsert_many(s, [snapshot(gone)])
        mark_deleted(s, gone["metadata"]["uid"], datetime.now(UTC))
    engine.dispose()
    cluster.custom().delete_namespaced_custom_object(GROUP, VERSION, api.ns, "tasks", older)
    wait_for(
        "the run deleted", lambda: older not in {t["metadata"]["name"] for t in list_objects(cluster, api.ns, "tasks")}
    )
    mark = cluster.audit().mark()

    again = api.http.post(api.url("kept", "backfill"), json=body)
    assert again.status_code == 200, again.text
    assert (_listed(again.json()["skippedHistory"]), _listed(again.json()["skippedExisting"])) == ([older], [newer])
    assert _attempts(cluster, api.ns, since=mark) == 0


def test_a_forbid_backfill_starts_the_oldest_and_continues_only_once_none_is_active(api: Api, cluster: Cluster) -> None:
    _schedule(cluster, api.ns, "one-by-one", concurrencyPolicy="Replace")  # not Allow: a backfill defaults to Forbid
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [end - timedelta(hours=2), end - timedelta(hours=1), end]
    body = {"from": _z(hours[0]), "to": _z(end)}

    first = api.http.post(api.url("one-by-one", "backfill"), json=body)
    assert first.status_code == 201, first.text
    assert first.json()["concurrency"] == "Forbid"
    assert _listed(first.json()["created"]) == _names("one-by-one", hours[:1])
    assert _listed(first.json()["notStarted"]) == _names("one-by-one", hours[1:])
    again = api.http.post(api.url("one-by-one", "backfill"), json=body)  # the oldest naps: still active
    assert again.status_code == 200
    assert _listed(again.json()["notStarted"]) == _names("one-by-one", hours[1:])
    allowed = api.http.post(api.url("one-by-one", "backfill"), json={**body, "concurrency": "Allow"})
    assert _listed(allowed.json()["created"]) == _names("one-by-one", hours[1:])
    assert sorted(_created(cluster, api.ns)) == _names("one-by-one", hours)


# a past half hour: `_BASE + n hours` holds n hourly instants when n > 0
_BASE = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(hours=1)
_H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("body", "pointer", "says"),
    [
        ({"from": _z(_BASE - 200 * _H), "to": _z(_BASE)}, "/to", "holds 200 instants"),
        ({"from": _z(_BASE - 2 * _H), "to": _z(_BASE + 3 * _H)}, "/to", "is in the future"),
        ({"from": _z(_BASE - _H), "to": _z(_BASE - 3 * _H)}, "/to", "is before from"),
        ({"from": "1969-12-31T00:00:00Z", "to": _z(_BASE)}, "/from", "before 1970"),
        ({"from": "2026-01-01T00:00:00", "to": _z(_BASE)}, "/from", "timezone"),
        ({"from": _z(_BASE - _H)}, "/to", "required"),
        ({"from": _z(_BASE - _H), "to": _z(_BASE), "concurrency": "Queue"}, "/concurrency", "Allow"),
    ],
    ids=["over-the-cap", "to-in-the-future", "to-before-from", "before-1970", "no-offset", "no-to", "bad-concurrency"],
)
def test_a_bad_backfill_range_is_a_422_naming_the_field_and_creates_nothing(
    api: Api, cluster: Cluster, body: dict[str, str], pointer: str, says: str
) -> None:
    _schedule(cluster, api.ns, "hourly")
    mark = cluster.audit().mark()
    r = api.http.post(api.url("hourly", "backfill"), json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert says in problem["errors"][0]["detail"]
    assert _attempts(cluster, api.ns, since=mark) == 0


def test_actions_on_a_missing_schedule_are_404(api: Api) -> None:
    assert api.http.post(api.url("absent", "trigger")).status_code == 404
    body = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"}
    assert api.http.post(api.url("absent", "backfill"), json=body).status_code == 404
    assert api.http.get(api.url("absent", "preview")).status_code == 404


# -- trigger ---------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["Forbid", "Queue"])
def test_a_trigger_while_a_run_is_active_under_forbid_or_queue_is_a_409_naming_the_run(
    api: Api, cluster: Cluster, policy: str
) -> None:
    _schedule(cluster, api.ns, "guarded", concurrencyPolicy=policy)
    first = api.http.post(api.url("guarded", "trigger"))  # suspended: a trigger still runs it
    assert first.status_code == 201, first.text
    run = first.json()
    assert run["name"].startswith("guarded-") and run["name"].endswith("-manual")
    assert run["labels"]["kubetask.io/trigger"] == "manual"
    assert first.headers["Location"] == f"/api/v1/namespaces/{api.ns}/tasks/{run['name']}"
    mark = cluster.audit().mark()

    second = api.http.post(api.url("guarded", "trigger"))
    assert second.status_code == 409, second.text
    assert run["name"] in second.json()["detail"] and f"concurrencyPolicy is {policy}" in second.json()["detail"]
    assert _attempts(cluster, api.ns, since=mark) == 0


def test_a_manual_run_holds_back_the_controllers_forbid_once_resumed(
    api: Api, cluster: Cluster, operator: OperatorProcess
) -> None:
    del operator  # the session's: it runs the controller
    _schedule(cluster, api.ns, "held", "*/3 * * * * *", concurrencyPolicy="Forbid")
    manual = api.http.post(api.url("held", "trigger")).json()["name"]
    patch = {"spec": {"suspend": False}}
    cluster.custom().patch_namespaced_custom_object(GROUP, VERSION, api.ns, "taskschedules", "held", patch)

    def skipped() -> dict[str, Any] | None:
        status = cluster.custom().get_namespaced_custom_object(GROUP, VERSION, api.ns, "taskschedules", "held")
        return status["status"] if (status.get("status") or {}).get("skippedRuns", 0) >= 2 else None

    status = wait_for("two instants skipped for the manual run", skipped, timeout=60)
    assert [r["name"] for r in status["active"]] == [manual]
    assert _created(cluster, api.ns) == [manual]


def test_a_trigger_under_replace_cancels_the_active_run_then_starts(api: Api, cluster: Cluster) -> None:
    _schedule(cluster, api.ns, "replaced", concurrencyPolicy="Replace")
    first = api.http.post(api.url("replaced", "trigger")).json()["name"]
    stamp = first.split("-")[1]
    wait_for("the next second", lambda: datetime.now(UTC).strftime("%Y%m%d%H%M%S") > stamp)
    second = api.http.post(api.url("replaced", "trigger"))
    assert second.status_code == 201, second.text
    assert second.json()["name"] != first
    assert get_task(cluster, api.ns, first)["spec"].get("cancel") is True
    assert get_task(cluster, api.ns, second.json()["name"])["spec"].get("cancel") is not True


@pytest.mark.parametrize(
    ("task", "says"),
    [
        ({"templateRef": {"name": "later"}}, "TaskTemplate 'later' of schedule 'orphan' not found"),
        ({"templateRef": {"name": "nap"}, "params": {"seconds": "soon"}}, "spec.task.params/seconds"),
    ],
    ids=["template-missing", "params-refused"],
)
def test_a_schedule_whose_run_could_not_start_is_a_409_for_trigger_and_backfill(
    api: Api, cluster: Cluster, task: dict[str, Any], says: str
) -> None:
    _schedule(cluster, api.ns, "orphan", task=task)
    mark = cluster.audit().mark()
    end = datetime.now(UTC) - timedelta(seconds=1)
    for r in (
        api.http.post(api.url("orphan", "trigger")),
        api.http.post(api.url("orphan", "backfill"), json={"from": _z(end - timedelta(hours=2)), "to": _z(end)}),
    ):
        assert r.status_code == 409, r.text
        assert says in r.json()["detail"]
    assert _attempts(cluster, api.ns, since=mark) == 0


# -- preview ---------------------------------------------------------------------------------


def test_a_preview_lists_the_next_instants_in_utc_and_in_the_zone(api: Api, cluster: Cluster) -> None:
    _schedule(cluster, api.ns, "morning", "0 9 * * *", timeZone="Europe/Berlin")
    r = api.http.get(api.url("morning", "preview"), params={"count": 3})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["timeZone"], doc["suspended"], len(doc["items"])) == ("Europe/Berlin", True, 3)
    for item in doc["items"]:
        local = datetime.fromisoformat(item["localTime"])
        assert (local.hour, local.minute) == (9, 0)
        assert datetime.fromisoformat(item["time"].replace("Z", "+00:00")) == local
        assert item["startTime"] == item["time"]
    assert len(api.http.get(api.url("morning", "preview")).json()["items"]) == 10


@pytest.mark.parametrize("count", ["0", "101", "many"])
def test_a_preview_count_outside_1_to_100_is_a_422(api: Api, cluster: Cluster, count: str) -> None:
    _schedule(cluster, api.ns, "morning", "0 9 * * *")
    r = api.http.get(api.url("morning", "preview"), params={"count": count})
    assert r.status_code == 422 and [e["pointer"] for e in r.json()["errors"]] == ["query:count"]


def test_a_schedule_whose_cron_never_fires_is_a_422_naming_spec_schedule(api: Api, cluster: Cluster) -> None:
    _schedule(cluster, api.ns, "never", "0 0 31 2 *")  # the CRD takes any string; the model refuses it
    for r in (
        api.http.get(api.url("never", "preview")),
        api.http.post(api.url("never", "trigger")),
        api.http.post(
            api.url("never", "backfill"), json={"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
        ),
    ):
        assert r.status_code == 422, r.text
        assert [e["pointer"] for e in r.json()["errors"]] == ["/spec/schedule"]
        assert r.json()["errors"][0]["detail"] == "'0 0 31 2 *' never fires: no date matches all its fields"


# -- CLI -------------------------------------------------------------------------------------


def test_the_cli_triggers_backfills_and_previews(kt: Callable[..., Result], cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("nap", handler="sleep", paramSchema=NAP_PARAMS))
    _schedule(cluster, namespace, "cli", concurrencyPolicy="Forbid")

    triggered = kt("schedules", "trigger", "cli")
    assert triggered.exit_code == 0, triggered.output
    assert triggered.stdout.strip().endswith("-manual")
    refused = kt("schedules", "trigger", "cli")
    assert refused.exit_code == 3 and len(refused.stderr.strip().splitlines()) == 1
    assert triggered.stdout.strip() in refused.stderr and "409" in refused.stderr

    first = kt("schedules", "backfill", "cli", "--from", "-2h", "--concurrency", "Allow")
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert len(lines) == 2 and all(line.endswith(" created") for line in lines), lines
    again = kt("schedules", "backfill", "cli", "--from=-2h", "--concurrency", "Allow", "-o", "json")
    assert again.exit_code == 0, again.output
    doc = json.loads(again.stdout)
    assert doc["created"] == [] and len(doc["skippedExisting"]) == 2
    future = kt("schedules", "backfill", "cli", "--from", "-2h", "--to", "+1h")
    assert future.exit_code == 3 and "/to" in future.stderr and len(future.stderr.strip().splitlines()) == 1

    preview = kt("schedules", "preview", "cli", "--count", "2", "-o", "json")
    assert preview.exit_code == 0, preview.output
    assert len(json.loads(preview.stdout)["items"]) == 2
    table = kt("schedules", "preview", "cli", "--count", "3")
    assert table.stdout.splitlines()[0].split() == ["TIME", "LOCAL-TIME"] and len(table.stdout.splitlines()) == 4
