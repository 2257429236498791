"""On the node: a handler's PermanentError is never retried; its RetryableError's retry_after is waited for."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kubetask.testing.cluster import Cluster, create, task, template, wait_task
from kubetask.testing.timestamps import parse_instant

pytestmark = pytest.mark.usefixtures("operator")


def test_a_permanent_error_fails_after_one_attempt_whatever_retry_on_says(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("fail", handler="fail"))
    retry = {"maxAttempts": 3, "delaySeconds": 0, "retryOn": ["NonZeroExit"]}
    params = {"message": "no such order", "permanent": True}
    create(cluster, namespace, "tasks", task("gone", templateRef={"name": "fail"}, params=params, retry=retry))

    st = wait_task(cluster, namespace, "gone")["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "PermanentFailure")
    assert st["message"] == "exit code 1: PermanentError: no such order"
    (attempt,) = st["attempts"]
    assert attempt["handler"]["name"] == "fail" and attempt["handler"]["retryable"] is False
    assert [j.metadata.name for j in cluster.batch().list_namespaced_job(namespace).items] == ["gone-1"]


def test_the_next_attempt_waits_for_the_handlers_retry_after(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasktemplates", template("fail", handler="fail"))
    retry = {"maxAttempts": 2, "delaySeconds": 0, "jitter": "none"}
    params = {"message": "busy", "retryAfterSeconds": 8}
    create(cluster, namespace, "tasks", task("busy", templateRef={"name": "fail"}, params=params, retry=retry))

    st = wait_task(cluster, namespace, "busy", timeout=120)["status"]

    assert (st["phase"], st["reason"]) == ("DeadLettered", "NonZeroExit")
    first, second = st["attempts"]
    raised = parse_instant(first["handler"]["time"])
    assert first["handler"]["retryAfterSeconds"] == 8
    job2 = cluster.batch().read_namespaced_job(second["jobName"], namespace)
    assert job2.metadata.creation_timestamp >= raised + timedelta(seconds=8)  # next attempt time is rounded up
    assert parse_instant(second["startTime"]) >= raised + timedelta(seconds=8)
