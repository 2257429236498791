"""A Task becomes a Job whose pod runs the executor in a real container; its result lands in status."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubetask.testing.cluster import (
    GROUP,
    VERSION,
    Cluster,
    OperatorProcess,
    get_task,
    task_events,
    wait_for,
    wait_task,
)
from kubetask.testing.timestamps import parse_instant

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("operator")


def test_kubectl_apply_of_template_and_task_succeeds_with_echoed_result(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples/echo.yaml"))

    t = wait_task(cluster, namespace, "hello")

    st = t["status"]
    assert st["phase"] == "Succeeded", st
    assert st["result"] == {"message": "hello from kubetask", "times": 2}
    assert st["attemptCount"] == 1
    assert [(a["number"], a["jobName"], a["exitCode"]) for a in st["attempts"]] == [(1, "hello-1", 0)]
    assert st["completionTime"] and st["startTime"] and st["duration"]
    jobs = cluster.batch().list_namespaced_job(namespace).items
    assert [j.metadata.name for j in jobs] == ["hello-1"]
    owner = jobs[0].metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Task",
        "hello",
        t["metadata"]["uid"],
        True,
    )
    pods = cluster.core().list_namespaced_pod(namespace).items
    assert len(pods) == 1 and pods[0].metadata.owner_references[0].name == "hello-1"
    assert st["attempts"][0]["podName"] == pods[0].metadata.name
    reasons = [r for _, r in task_events(cluster, namespace, "hello")]
    assert reasons[0] == "JobCreated" and reasons[-1] == "Completed", reasons

    printed = cluster.kubectl("get", "tasks", "-n", namespace).stdout
    assert printed.split("\n")[0].split() == ["NAME", "TEMPLATE", "PHASE", "ATTEMPTS", "AGE", "DURATION"]
    assert printed.split("\n")[1].split()[:4] == ["hello", "echo", "Succeeded", "1"]

    cluster.kubectl("delete", "task", "hello", "-n", namespace)
    wait_for(
        "Job and pod garbage-collected",
        lambda: (
            not cluster.batch().list_namespaced_job(namespace).items
            and not cluster.core().list_namespaced_pod(namespace).items
        ),
        timeout=30,
    )


def _mirrored_version(operator: OperatorProcess, ns: str, name: str) -> int:
    """The resourceVersion of the Task the operator's mirror last stored (0 before it has a row)."""
    path = operator.database_url.removeprefix("sqlite:///")
    try:
        with closing(sqlite3.connect(path, timeout=5)) as db:
            row = db.execute(
                "SELECT resource_version FROM tasks WHERE namespace = ? AND name = ?", (ns, name)
            ).fetchone()
    except sqlite3.OperationalError:  # the mirror's schema is not there yet
        return 0
    return int(row[0]) if row else 0


def test_status_is_not_rewritten_once_final(cluster: Cluster, namespace: str, operator: OperatorProcess) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples/echo.yaml"))
    done = wait_task(cluster, namespace, "hello")["status"]
    # The operator posts the final Event only after its final status write; the Job's own completion
    # (another event it sees) follows the pod's. From here on nothing should write the status.
    wait_for("the Completed Event", lambda: ("Normal", "Completed") in task_events(cluster, namespace, "hello"))
    wait_for("Job complete", lambda: cluster.batch().read_namespaced_job("hello-1", namespace).status.succeeded)
    audit = cluster.audit()
    mark = audit.mark()
    assert get_task(cluster, namespace, "hello")["status"] == done
    # Status times have 1 s resolution: a rewrite that stamps "now" (a moved completionTime, say) is
    # only visible once the clock has left the second the task finished in. Not a synchronisation:
    # what the test waits on afterwards is the operator's own handling.
    finished = parse_instant(done["completionTime"])
    wait_for("the clock past the completion second", lambda: datetime.now(UTC) >= finished + timedelta(seconds=2))

    # A label change is a Task event the operator reconciles (a resourceVersion not of its own write);
    # its mirror stores the version it reconciled only after the status write that reconcile made, if any.
    body = {"metadata": {"labels": {"touched": "yes"}}}
    touched = cluster.custom().patch_namespaced_custom_object(GROUP, VERSION, namespace, "tasks", "hello", body)
    version = int(touched["metadata"]["resourceVersion"])
    wait_for(
        "the operator to mirror the touched Task", lambda: _mirrored_version(operator, namespace, "hello") >= version
    )

    cluster.audit_sync()
    writes = audit.requests(since=mark, verb={"update", "patch"}, resource="tasks", namespace=namespace, name="hello")
    assert [(w.verb, w.subresource, w.user_agent) for w in writes if w.subresource == "status"] == []
    after = get_task(cluster, namespace, "hello")
    assert after["status"] == done
    # the label patch is the last write: its resourceVersion is the Task's (a status write would move it)
    assert after["metadata"]["resourceVersion"] == touched["metadata"]["resourceVersion"]
