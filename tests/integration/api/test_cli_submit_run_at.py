"""`kubetask submit --run-at` against the real API, operator and cluster: the Task waits Scheduled
with no Job, `get` shows the phase and the time, `cancel` ends it without a Job; a local time is a
usage error (exit 2) and creates nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import Result

from kubetask.testing.cluster import Cluster, create, get_task, list_objects, template, wait_task


def _ok(r: Result) -> str:
    assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
    return r.stdout


def test_submit_run_at_waits_scheduled_and_cancel_ends_it_without_a_job(cluster: Cluster, namespace: str, kt) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    before = datetime.now(UTC).replace(microsecond=0)

    name = _ok(kt("submit", "echo", "-p", "n=1", "--run-at", "+1h")).strip()
    run_at = datetime.fromisoformat(get_task(cluster, namespace, name)["spec"]["runAt"])
    assert before + timedelta(hours=1) <= run_at < before + timedelta(hours=1, minutes=1)
    wait_task(cluster, namespace, name, {"Scheduled"})
    shown = json.loads(_ok(kt("get", name, "-o", "json")))
    assert (shown["phase"], shown["reason"]) == ("Scheduled", "Scheduled") and "spec.runAt" in shown["message"]

    _ok(kt("cancel", name))
    st = wait_task(cluster, namespace, name, {"Cancelled"})["status"]
    assert (st["attemptCount"], st["attempts"]) == (0, [])
    assert cluster.batch().list_namespaced_job(namespace).items == []

    local = kt("submit", "echo", "--run-at", "2030-01-02T03:04:05")
    assert local.exit_code == 2 and "--run-at '2030-01-02T03:04:05'" in local.stderr, local.stderr
    assert [t["metadata"]["name"] for t in list_objects(cluster, namespace, "tasks")] == [name]
