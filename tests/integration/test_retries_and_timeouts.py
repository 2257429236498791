"""Retries with backoff, typed failures produced for real on the node, deadlines, pending timeouts."""

from __future__ import annotations

import pytest

from kubetask.testing.cluster import Cluster, create, python_spec, task, wait_task
from kubetask.testing.timestamps import parse_instant

pytestmark = pytest.mark.usefixtures("operator")


# delay 2 s, factor 8: the second delay is 2 s (constant), 4 s (linear), 16 s (exponential), so any
# kind read as another moves a gap past one of the bounds below (hand-computed, kubetask.retry).
BACKOFF = {"maxAttempts": 3, "delaySeconds": 2, "factor": 8, "jitter": "none"}
EXPECTED_GAPS = {"constant": (2, 2), "linear": (2, 4), "exponential": (2, 16)}


def test_each_backoff_kind_waits_its_own_delays_then_dead_letters(cluster: Cluster, namespace: str) -> None:
    for kind in EXPECTED_GAPS:
        body = task(kind, **python_spec("import sys; sys.exit(1)"), retry={**BACKOFF, "backoff": kind})
        create(cluster, namespace, "tasks", body)

    done = {kind: wait_task(cluster, namespace, kind, timeout=240)["status"] for kind in EXPECTED_GAPS}

    jobs = {
        j.metadata.name: j.metadata.creation_timestamp for j in cluster.batch().list_namespaced_job(namespace).items
    }
    assert sorted(jobs) == sorted(f"{k}-{n}" for k in EXPECTED_GAPS for n in (1, 2, 3))
    for kind, st in done.items():
        assert (st["phase"], st["reason"]) == ("DeadLettered", "NonZeroExit"), kind
        assert [a["jobName"] for a in st["attempts"]] == [f"{kind}-1", f"{kind}-2", f"{kind}-3"]
        assert st["policy"] == {  # the resolved policy, written out by hand: defaults for what the Task left out
            "maxAttempts": 3,
            "backoff": kind,
            "delaySeconds": 2,
            "factor": 8,
            "maxDelaySeconds": 600,
            "jitter": "none",
            "jitterRatio": 0.1,
            "noRetryOn": [],
            "pendingTimeoutSeconds": 900,
            "ttlSecondsAfterFinished": 3600,
        }
        dead = next(c for c in st["conditions"] if c["type"] == "DeadLettered")
        assert (dead["status"], dead["reason"]) == ("True", "AttemptsExhausted")
        for n, expected in enumerate(EXPECTED_GAPS[kind], start=1):
            # container finishedAt of attempt n -> creation of the Job of attempt n+1, both whole seconds
            gap = (jobs[f"{kind}-{n + 1}"] - parse_instant(st["attempts"][n - 1]["finishTime"])).total_seconds()
            # the delay is measured from finishedAt, so it is never short (1 s for the rounding); it is
            # late by however long the operator took to see the failure and create the Job
            assert expected - 1 <= gap <= expected + 8, (kind, n, gap)


def test_no_retry_on_exit_code_is_honoured(cluster: Cluster, namespace: str) -> None:
    policy = {"maxAttempts": 3, "delaySeconds": 1, "noRetryOn": [3]}
    create(cluster, namespace, "tasks", task("bad-config", **python_spec("import sys; sys.exit(3)"), retry=policy))

    st = wait_task(cluster, namespace, "bad-config")["status"]

    assert (st["phase"], st["reason"], st["attemptCount"]) == ("Failed", "NonZeroExit", 1)


def test_retry_then_success(cluster: Cluster, namespace: str) -> None:
    # fails on attempt 1, succeeds on attempt 2 (the executor sees KUBETASK_ATTEMPT)
    code = "import os, sys; sys.exit(0 if os.environ['KUBETASK_ATTEMPT'] == '2' else 5)"
    policy = {"maxAttempts": 3, "backoff": "constant", "delaySeconds": 1, "jitter": "full"}
    create(cluster, namespace, "tasks", task("second-time", **python_spec(code), retry=policy))

    st = wait_task(cluster, namespace, "second-time")["status"]

    assert (st["phase"], st["attemptCount"]) == ("Succeeded", 2)
    assert [a["exitCode"] for a in st["attempts"]] == [5, 0]


def test_evicted_by_the_kubelet(cluster: Cluster, namespace: str) -> None:
    # over its ephemeral-storage limit, the kubelet's eviction manager evicts the pod for real
    code = "open('/tmp/big', 'wb').write(b'x' * 60 * 1024 * 1024); import time; time.sleep(300)"
    body = task("disk-hog", **python_spec(code, resources={"limits": {"ephemeral-storage": "10Mi"}}))
    create(cluster, namespace, "tasks", body)

    st = wait_task(cluster, namespace, "disk-hog", timeout=120)["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "Evicted")
    assert "ephemeral local storage" in st["message"]


def test_unschedulable_pod_fails_after_pending_timeout(cluster: Cluster, namespace: str) -> None:
    body = task("too-big", **python_spec("print(1)", resources={"requests": {"cpu": "64"}}), pendingTimeoutSeconds=4)
    create(cluster, namespace, "tasks", body)

    st = wait_task(cluster, namespace, "too-big", timeout=60)["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "Unschedulable")
    assert "Insufficient cpu" in st["message"]
    assert cluster.batch().list_namespaced_job(namespace).items == [] or all(
        j.metadata.deletion_timestamp for j in cluster.batch().list_namespaced_job(namespace).items
    )


def test_overall_deadline_stops_the_running_attempt(cluster: Cluster, namespace: str) -> None:
    create(cluster, namespace, "tasks", task("long", **python_spec("import time; time.sleep(300)"), deadlineSeconds=6))

    st = wait_task(cluster, namespace, "long", timeout=60)["status"]

    assert (st["phase"], st["reason"]) == ("Failed", "DeadlineExceeded")
    assert "deadline of 6s" in st["message"]
