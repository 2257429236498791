"""`spec.runAt` on the real cluster: Scheduled with no Job until then, across an operator SIGKILL;
one Job after runAt; cancellable while waiting; a runAt in the past runs at once.

"No Job before runAt" is read from the apiserver's audit log (every Job create in the namespace,
by anyone, with the time the apiserver received it), so a Job created early and deleted again
would show too. The three Tasks share one namespace and one wait.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kubernetes.client.exceptions import ApiException

from kubetask.testing.cluster import (
    Cluster,
    OperatorProcess,
    create,
    get_task,
    task,
    task_events,
    template,
    wait_task,
)

pytestmark = pytest.mark.own_cluster  # kills the session operator

# Far enough ahead for the past Task to get its Job, the cancel and a kill and restart of the
# operator to happen while `later` waits (each takes seconds; the margin is for a loaded machine).
AHEAD = timedelta(seconds=30)


def _rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _job_creates(cluster: Cluster, namespace: str) -> list[tuple[str, int, datetime]]:
    """(Job name, answer, when the apiserver received it) of every Job create in `namespace`."""
    cluster.audit_sync()
    creates = cluster.audit().requests(verb="create", resource="jobs", namespace=namespace)
    return [(r.name, r.code, datetime.fromisoformat(r.received)) for r in creates]


def test_run_at_survives_an_operator_sigkill_and_cancel_and_a_past_run_at_do_what_they_say(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    run_at = (datetime.now(UTC) + AHEAD).replace(microsecond=0)
    echo = {"templateRef": {"name": "echo"}}
    create(cluster, namespace, "tasks", task("later", **echo, params={"n": 1}, runAt=_rfc3339(run_at)))
    create(cluster, namespace, "tasks", task("unwanted", **echo, params={"n": 2}, runAt=_rfc3339(run_at)))
    past = _rfc3339(run_at - timedelta(hours=1))
    create(cluster, namespace, "tasks", task("overdue", **echo, params={"n": 3}, runAt=past))

    assert wait_task(cluster, namespace, "later", {"Scheduled"})["status"]["reason"] == "Scheduled"
    wait_task(cluster, namespace, "unwanted", {"Scheduled"})
    cluster.kubectl("patch", "task", "unwanted", "-n", namespace, "--type=merge", "-p", '{"spec":{"cancel":true}}')
    assert wait_task(cluster, namespace, "unwanted", {"Cancelled"})["status"]["attempts"] == []
    # the past runAt ran at once: its Job exists while the others still wait
    wait_task(cluster, namespace, "overdue", {"Pending", "Running", "Succeeded"})
    assert get_task(cluster, namespace, "later")["status"]["phase"] == "Scheduled"
    assert datetime.now(UTC) < run_at, "the set-up took longer than AHEAD: nothing below tests runAt"

    operator.kill()
    operator.start()

    st = wait_task(cluster, namespace, "later", timeout=AHEAD.total_seconds() + 90)["status"]
    assert (st["phase"], st["result"], [a["jobName"] for a in st["attempts"]]) == ("Succeeded", {"n": 1}, ["later-1"])
    assert wait_task(cluster, namespace, "overdue")["status"]["phase"] == "Succeeded"
    creates = _job_creates(cluster, namespace)
    assert sorted((name, code) for name, code, _ in creates) == [("later-1", 201), ("overdue-1", 201)]
    assert [when >= run_at for name, _, when in creates if name == "later-1"] == [True]
    assert [when < run_at for name, _, when in creates if name == "overdue-1"] == [True]
    assert sorted(j.metadata.name for j in cluster.batch().list_namespaced_job(namespace).items) == [
        "later-1",
        "overdue-1",
    ]
    assert task_events(cluster, namespace, "later")[:2] == [("Normal", "Scheduled"), ("Normal", "JobCreated")]


def test_a_run_at_without_an_offset_is_refused_by_the_apiserver(cluster: Cluster, namespace: str) -> None:
    """The CRD's `format: date-time` takes RFC 3339 only: a local time would mean another instant on
    each machine that reads it, so it never reaches the operator."""
    with pytest.raises(ApiException) as refused:
        create(cluster, namespace, "tasks", task("local", image="busybox", runAt="2030-01-02T03:04:05"))
    assert refused.value.status == 422 and "spec.runAt" in str(refused.value.body)
