"""Retries with backoff, typed failures produced for real on the node, deadlines, pending timeouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from kubetask.testing.cluster import Cluster, create, task, wait_task

pytestmark = pytest.mark.usefixtures("operator")


def _py(code: str, **extra: Any) -> dict[str, Any]:
    return {"image": "kubetask/executor:dev", "imagePullPolicy": "IfNotPresent", "command": ["python3", "-c", code],
            **extra}  # fmt: skip


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_linear_backoff_gives_the_documented_delays_then_dead_letters(cluster: Cluster, namespace: str) -> None:
    policy = {"maxAttempts": 3, "backoff": "linear", "delaySeconds": 3, "jitter": "none"}
    create(cluster, namespace, "tasks", task("flaky", **_py("import sys; sys.exit(1)"), retry=policy))

    st = wait_task(cluster, namespace, "flaky", timeout=120)["status"]

    assert (st["phase"], st["reason"]) == ("DeadLettered", "NonZeroExit")
    assert [a["jobName"] for a in st["attempts"]] == ["flaky-1", "flaky-2", "flaky-3"]
    jobs = {
        j.metadata.name: j.metadata.creation_timestamp for j in cluster.batch().list_namespaced_job(namespace).items
    }
    assert sorted(jobs) == ["flaky-1", "flaky-2", "flaky-3"]  # exactly one Job per attempt
    for n, expected in ((1, 3), (2, 6)):  # linear: delay · n after attempt n failed
        gap = (jobs[f"flaky-{n + 1}"] - _ts(st["attempts"][n - 1]["finishTime"])).total_seconds()
        assert expected - 1 <= gap <= expected + 10, (n, gap)  # 1 s timestamp resolution; slack for a busy node
    dead = next(c for c in st["conditions"] if c["type"] == "DeadLettered")
    assert (dead["status"], dead["reason"]) == ("True", "AttemptsExhausted")


def test_no_retry_on_exit_code_is_honoured(cluster: Cluster, namespace: str) -> None:
    policy = {"maxAttempts": 3, "delaySeconds": 1, "noRetryOn": [3]}
    create(cluster, namespace, "tasks", task("bad-config", **_py("import sys; sys.exit(3)"), retry=policy))

    st = wait_task(cluster, namespace, "bad-config")["status"]

    assert (st["phase"], st["reason"], st["attemptCount"]) == ("Failed", "NonZeroExit", 1)


def test_retry_then_success(cluster: Cluster, namespace: str) -> None:
    # fails on attempt 1, succeeds on attempt 2 (the executor sees KUBETASK_ATTEMPT)
    code = "import os, sys; sys.exit(0 if os.environ['KUBETASK_ATTEMPT'] == '2' else 5)"
    policy = {"maxAttempts": 3, "backoff": "constant", "delaySeconds": 1, "jitter": "full"}
    create(cluster, namespace, "tasks", task("second-time", **_py(code), retry=policy))

    st = wait_task(cluster, namespace, "second-time")["status"]

    assert (st["phase"], st["attemptCount"]) == ("Succeeded", 2)
    assert [a["exitCode"] for a in st["attempts"]] == [5, 0]


def test_evicted_by_the_kubelet(cluster: Cluster, namespace: str) -> None:
    # over its ephemeral-storage limit, the kubelet's eviction manager evicts the pod for real
    code = "open('/tmp/big', 'wb').write(b'x' * 60 * 1024 * 1024); import time; time.sleep(300)"
    create(
        cluster, namespace, "tasks", task("disk-hog", **_py(code, resources={"limits": {"ephemeral-storage": "10Mi"}}))
    )

    st = wait_task(cluster, namespace, "disk-hog", timeout=120)["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "Evicted")
    assert "ephemeral local storage" in st["message"]


def test_unschedulable_pod_fails_after_pending_timeout(cluster: Cluster, namespace: str) -> None:
    body = task("too-big", **_py("print(1)", resources={"requests": {"cpu": "64"}}), pendingTimeoutSeconds=4)
    create(cluster, namespace, "tasks", body)

    st = wait_task(cluster, namespace, "too-big", timeout=60)["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "Unschedulable")
    assert "Insufficient cpu" in st["message"]
    assert cluster.batch().list_namespaced_job(namespace).items == [] or all(
        j.metadata.deletion_timestamp for j in cluster.batch().list_namespaced_job(namespace).items
    )


def test_overall_deadline_stops_the_running_attempt(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasks", task("long", **_py("import time; time.sleep(300)"), deadlineSeconds=6))

    st = wait_task(cluster, namespace, "long", timeout=60)["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "DeadlineExceeded")
    assert "deadline of 6s" in st["message"]
