"""TaskSchedules on the real cluster, driven by the session's operator: runs on time with the
schedule's params, Forbid skips and counts, Replace cancels, Queue waits, suspend and resume, the
history limits with the SQL mirror, and a spec that cannot run says why.

The scenarios use 6-field schedules a few seconds apart and are all created at once, each in a
namespace of its own (`scenarios`), so the module takes about as long as its longest scenario.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kubetask.labels import ANNOTATION_SCHEDULED_TIME, LABEL_SCHEDULE
from kubetask.models import GROUP, VERSION
from kubetask.store import make_engine, schedule_runs
from kubetask.store.tables import ScheduleRow, TaskRow
from kubetask.testing.cluster import (
    Cluster,
    OperatorProcess,
    create,
    list_objects,
    template,
    wait_for,
    wait_namespace_ready,
)
from kubetask.testing.timestamps import parse_instant

EVERY_5S = "*/5 * * * * *"  # seconds first
ROOT = Path(__file__).resolve().parents[2]
NAP_PARAMS = {"type": "object", "properties": {"seconds": {"type": "number"}, "result": {"type": "object"}}}


def _schedule(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskSchedule", "metadata": {"name": name}, "spec": spec}


def _nap(seconds: float, **task: Any) -> dict[str, Any]:
    return {"templateRef": {"name": "nap"}, "params": {"seconds": seconds, "result": {"ok": True}}, **task}


# namespace suffix → schedule spec (all named `s`)
SCENARIOS: dict[str, dict[str, Any]] = {
    "on-time": {"schedule": EVERY_5S, "task": _nap(0, labels={"team": "a"}), "successfulHistoryLimit": 10},
    "forbid": {"schedule": EVERY_5S, "concurrencyPolicy": "Forbid", "task": _nap(12)},
    "replace": {"schedule": "*/8 * * * * *", "concurrencyPolicy": "Replace", "task": _nap(60)},
    "queue": {"schedule": EVERY_5S, "concurrencyPolicy": "Queue", "task": _nap(9)},
    "history": {"schedule": EVERY_5S, "task": _nap(0), "successfulHistoryLimit": 1},
    "bad-params": {"schedule": EVERY_5S, "task": {"templateRef": {"name": "nap"}, "params": {"seconds": "soon"}}},
    "no-template": {"schedule": EVERY_5S, "task": {"templateRef": {"name": "later"}, "params": {"seconds": 0}}},
    "suspend": {"schedule": EVERY_5S, "task": _nap(0)},
    "bad-zone": {"schedule": EVERY_5S, "timeZone": "Mars/Olympus", "task": _nap(0)},
    "never": {"schedule": "0 0 31 2 *", "task": _nap(0)},
}


@pytest.fixture(scope="module")
def scenarios(cluster: Cluster, operator: OperatorProcess) -> Iterator[dict[str, str]]:
    """Scenario → namespace, every schedule created at once (the operator is the session's)."""
    del operator
    core = cluster.core()
    run = uuid.uuid4().hex[:6]
    out = {key: f"s-{key}-{run}" for key in SCENARIOS}
    for ns in out.values():
        core.create_namespace({"metadata": {"name": ns}})
        wait_namespace_ready(core, ns)
        create(cluster, ns, "tasktemplates", template("nap", handler="sleep", paramSchema=NAP_PARAMS))
    for key, spec in SCENARIOS.items():
        create(cluster, out[key], "taskschedules", _schedule("s", **spec))
    out["example"] = f"s-example-{run}"
    core.create_namespace({"metadata": {"name": out["example"]}})
    wait_namespace_ready(core, out["example"])
    for example in ("echo.yaml", "schedule.yaml"):
        cluster.kubectl("apply", "-n", out["example"], "-f", str(ROOT / "examples" / example))
    try:
        yield out
    finally:
        for ns in out.values():
            core.delete_namespace(ns)


def _get(cluster: Cluster, ns: str) -> dict[str, Any]:
    obj: dict[str, Any] = cluster.custom().get_namespaced_custom_object(GROUP, VERSION, ns, "taskschedules", "s")
    return obj


def _status(cluster: Cluster, ns: str) -> dict[str, Any]:
    return _get(cluster, ns).get("status") or {}


def _runs(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return sorted(list_objects(cluster, ns, "tasks"), key=lambda t: t["metadata"]["name"])


def _at_least(n: int, runs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return runs if len(runs) >= n else None


def _ready(status: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)


def _not_ready(status: dict[str, Any]) -> dict[str, Any] | None:
    cond = _ready(status)
    return cond if cond is not None and cond["status"] == "False" else None


def _phases(cluster: Cluster, ns: str) -> dict[str, str | None]:
    return {t["metadata"]["name"]: (t.get("status") or {}).get("phase") for t in _runs(cluster, ns)}


def test_runs_are_created_on_time_with_the_schedules_params_labels_and_owner(
    cluster: Cluster, scenarios: dict[str, str]
) -> None:
    ns = scenarios["on-time"]
    runs = wait_for("three run Tasks", lambda: _at_least(3, _runs(cluster, ns)), timeout=90)
    schedule = _get(cluster, ns)
    for run in runs[:3]:
        meta = run["metadata"]
        nominal = parse_instant(meta["annotations"][ANNOTATION_SCHEDULED_TIME])
        assert nominal.second % 5 == 0
        assert meta["name"] == f"s-{nominal:%Y%m%d%H%M%S}"
        created = parse_instant(meta["creationTimestamp"])
        # timestamps have 1 s resolution: created within the second of its instant or the next one
        assert nominal <= created + timedelta(seconds=1) and created - nominal <= timedelta(seconds=2), meta
        assert meta["labels"] == {"team": "a", LABEL_SCHEDULE: "s"}
        assert meta["ownerReferences"][0]["uid"] == schedule["metadata"]["uid"]
        assert run["spec"]["params"] == {"seconds": 0, "result": {"ok": True}}
    wait_for("a succeeded run", lambda: "Succeeded" in _phases(cluster, ns).values(), timeout=90)
    status = wait_for("lastSuccessfulTime", lambda: (s := _status(cluster, ns)).get("lastSuccessfulTime") and s)
    assert len(status["nextRunTimes"]) == 5 and _ready(status)["status"] == "True"  # type: ignore[index]
    assert status["missedRuns"] == 0 and status["skippedRuns"] == 0
    instants = [parse_instant(t) for t in status["nextRunTimes"]]
    assert instants == sorted(instants) and all(b - a == timedelta(seconds=5) for a, b in itertools.pairwise(instants))


def test_forbid_skips_and_counts_instants_while_a_run_is_active(cluster: Cluster, scenarios: dict[str, str]) -> None:
    ns = scenarios["forbid"]
    status = wait_for("a skipped run", lambda: (s := _status(cluster, ns)).get("skippedRuns", 0) >= 2 and s, timeout=90)
    runs = _runs(cluster, ns)
    active = [n for n, p in _phases(cluster, ns).items() if p not in ("Succeeded", "Failed", "Cancelled")]
    assert len(active) <= 1, runs
    assert status["lastSkippedTime"] > runs[0]["metadata"]["annotations"][ANNOTATION_SCHEDULED_TIME]
    events = cluster.core().list_namespaced_event(ns, field_selector="involvedObject.kind=TaskSchedule").items
    assert any(e.reason == "RunSkipped" and "Forbid" in e.message for e in events)


def test_replace_cancels_the_running_task_keeps_it_and_starts_the_next(
    cluster: Cluster, scenarios: dict[str, str]
) -> None:
    ns = scenarios["replace"]

    def cancelled_and_newer() -> dict[str, str | None] | None:
        phases = _phases(cluster, ns)
        return phases if "Cancelled" in phases.values() and len(phases) >= 2 else None

    phases = wait_for("a cancelled run and a newer one", cancelled_and_newer, timeout=90)
    names = sorted(phases)
    assert phases[names[0]] == "Cancelled"  # the replaced run is kept, with its history
    assert "Cancelled" not in [phases[n] for n in names[1:]][-1:]


def test_queue_holds_one_instant_and_starts_it_when_the_active_run_ends(
    cluster: Cluster, scenarios: dict[str, str]
) -> None:
    ns = scenarios["queue"]
    queued = wait_for("a queued instant", lambda: _status(cluster, ns).get("queued"), timeout=60)
    name = f"s-{parse_instant(queued):%Y%m%d%H%M%S}"
    first = _runs(cluster, ns)[0]["metadata"]["name"]
    wait_for(f"{first} to end", lambda: _phases(cluster, ns).get(first) == "Succeeded", timeout=90)
    run = wait_for(
        f"the queued run {name}", lambda: next((r for r in _runs(cluster, ns) if r["metadata"]["name"] == name), None)
    )
    assert run["metadata"]["annotations"][ANNOTATION_SCHEDULED_TIME] == queued
    assert _status(cluster, ns).get("skippedRuns", 0) >= 1  # the instants beyond the one waiting


def test_history_limits_delete_older_runs_only_once_mirrored_and_never_run_them_again(
    cluster: Cluster, operator: OperatorProcess, scenarios: dict[str, str]
) -> None:
    ns = scenarios["history"]
    seen: set[str] = set()

    def deleted() -> set[str] | None:
        now = set(_phases(cluster, ns))
        seen.update(now)
        gone = seen - now
        return gone if len(gone) >= 2 else None

    gone = wait_for("two runs deleted by the history limit", deleted, timeout=120)
    mark = parse_instant(_status(cluster, ns)["lastScheduleTime"])
    assert all(datetime.strptime(n[2:], "%Y%m%d%H%M%S").replace(tzinfo=UTC) <= mark for n in gone)
    assert not gone & set(_phases(cluster, ns))  # a deleted instant is not created again
    engine = make_engine(operator.database_url)  # the deleted runs' history is in SQL, final
    try:
        with Session(engine) as s:
            rows = {r.name: r.phase for r in s.scalars(select(TaskRow).where(TaskRow.namespace == ns))}
    finally:
        engine.dispose()
    assert {rows.get(n) for n in gone} == {"Succeeded"}, rows


def test_sql_holds_the_schedule_and_its_runs_after_the_tasks_and_the_schedule_are_gone(
    cluster: Cluster, operator: OperatorProcess, scenarios: dict[str, str]
) -> None:
    ns = scenarios["history"]
    uid = _get(cluster, ns)["metadata"]["uid"]
    engine = make_engine(operator.database_url)

    def mirrored() -> tuple[ScheduleRow, list[TaskRow]] | None:
        with Session(engine) as s:
            row = schedule_runs.find_schedule(s, ns, "s")
            page = schedule_runs.list_schedule_runs(s, namespace=ns, schedule="s", limit=100)
        return (row, page.items) if row is not None and any(r.deleted_at for r in page.items) else None

    try:
        row, runs = wait_for("the schedule and a deleted run in SQL", mirrored, timeout=60)
        assert (row.uid, row.schedule, row.template, row.ready) == (uid, EVERY_5S, "nap", "True")
        assert row.last_schedule_time is not None and row.next_run_time is not None
        assert all(r.schedule_uid == uid for r in runs)
        times = [r.scheduled_time for r in runs if r.scheduled_time is not None]
        assert len(times) == len(runs) and times == sorted(times, reverse=True)  # every run has its instant
        cluster.custom().delete_namespaced_custom_object(GROUP, VERSION, ns, "taskschedules", "s")

        def marked() -> ScheduleRow | None:
            with Session(engine) as s:
                found = schedule_runs.find_schedule(s, ns, "s")
            return found if found is not None and found.deleted_at is not None else None

        wait_for("the schedule marked deleted in SQL", marked, timeout=60)
        with Session(engine) as s:  # its runs' history stays
            assert len(schedule_runs.list_schedule_runs(s, namespace=ns, schedule="s", limit=100).items) >= len(runs)
    finally:
        engine.dispose()


def test_a_schedule_that_cannot_run_says_why_and_starts_once_fixed(cluster: Cluster, scenarios: dict[str, str]) -> None:
    bad, missing = scenarios["bad-params"], scenarios["no-template"]
    cond = wait_for("InvalidSpec", lambda: (c := _ready(_status(cluster, bad))) and c["reason"] == "InvalidSpec" and c)
    assert cond["status"] == "False" and "spec.task.params/seconds" in cond["message"], cond
    cond = wait_for(
        "TemplateNotFound", lambda: (c := _ready(_status(cluster, missing))) and c["reason"] == "TemplateNotFound" and c
    )
    assert "'later'" in cond["message"]
    for key, field in (("bad-zone", "spec.timeZone: unknown time zone"), ("never", "spec.schedule: '0 0 31 2 *'")):
        cond = wait_for(key, lambda k=key: _not_ready(_status(cluster, scenarios[k])))  # type: ignore[misc]
        assert cond["reason"] == "InvalidSpec" and field in cond["message"], cond
        assert _runs(cluster, scenarios[key]) == []
    assert _runs(cluster, bad) == [] and _runs(cluster, missing) == []
    create(cluster, missing, "tasktemplates", template("later", handler="sleep"))
    fixed = datetime.now(UTC)
    run = wait_for("a run once the template exists", lambda: _runs(cluster, missing), timeout=30)[0]
    assert parse_instant(run["metadata"]["annotations"][ANNOTATION_SCHEDULED_TIME]) >= fixed - timedelta(seconds=1)
    assert _status(cluster, missing).get("missedRuns", 0) == 0  # the instants before it were never possible


def test_suspend_creates_nothing_and_resume_runs_nothing_from_the_pause(
    cluster: Cluster, scenarios: dict[str, str]
) -> None:
    ns = scenarios["suspend"]
    wait_for("a first run", lambda: _runs(cluster, ns), timeout=30)
    patch = {"spec": {"suspend": True, "suspendReason": "maintenance"}}
    cluster.custom().patch_namespaced_custom_object(GROUP, VERSION, ns, "taskschedules", "s", patch)
    wait_for("Suspended", lambda: (_ready(_status(cluster, ns)) or {}).get("reason") == "Suspended")
    before = set(_phases(cluster, ns))
    time.sleep(12)  # two instants and more pass while suspended
    assert set(_phases(cluster, ns)) - before == set()  # (the history limit may delete old runs meanwhile)
    cluster.custom().patch_namespaced_custom_object(
        GROUP, VERSION, ns, "taskschedules", "s", {"spec": {"suspend": False}}
    )
    resumed = datetime.now(UTC)
    wait_for("a run after resuming", lambda: set(_phases(cluster, ns)) - before, timeout=30)
    new = [r for r in _runs(cluster, ns) if r["metadata"]["name"] not in before]
    assert all(
        parse_instant(r["metadata"]["annotations"][ANNOTATION_SCHEDULED_TIME]) >= resumed - timedelta(seconds=1)
        for r in new
    ), new
    status = _status(cluster, ns)
    assert status.get("missedRuns", 0) == 0


def test_the_example_schedule_runs_the_echo_template(cluster: Cluster, scenarios: dict[str, str]) -> None:
    ns = scenarios["example"]

    def succeeded() -> dict[str, Any] | None:
        return next((t for t in _runs(cluster, ns) if (t.get("status") or {}).get("phase") == "Succeeded"), None)

    run = wait_for("a succeeded run of examples/schedule.yaml", succeeded, timeout=90)
    assert run["metadata"]["labels"]["app"] == "heartbeat"
    assert run["status"]["result"]["message"] == "still alive"
