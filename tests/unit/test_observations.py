"""Reading Jobs and pods (as the apiserver's JSON) into observations, one Task or all at once."""

from __future__ import annotations

from typing import Any

from kubetask.observe import observations_by_task, pod_observation


def _job(ns: str, name: str, uid: str, attempt: int, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": ns,
            "name": name,
            "creationTimestamp": "2026-11-29T05:00:00Z",
            "labels": {"kubetask.io/task-uid": uid, "kubetask.io/attempt": str(attempt)},
        },
        "status": status,
    }


def _pod(ns: str, job: str, name: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name, "labels": {"job-name": job}}, "status": status}


def test_jobs_and_pods_are_grouped_by_task_uid_attempt_and_namespace() -> None:
    jobs = [
        _job("a", "t-1", "u1", 1, conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]),
        _job("a", "t-2", "u1", 2),
        _job("b", "t-1", "u2", 1, conditions=[{"type": "Complete", "status": "True"}]),  # same name, other namespace
        {
            **_job("a", "gone-1", "u3", 1),
            "metadata": {**_job("a", "gone-1", "u3", 1)["metadata"], "deletionTimestamp": "2026-11-29T05:01:00Z"},
        },
    ]
    pods = [
        _pod("a", "t-1", "t-1-x", phase="Failed"),
        _pod("a", "t-2", "t-2-y", phase="Running"),
        _pod("b", "t-1", "t-1-z", phase="Succeeded"),
    ]
    got = observations_by_task(jobs, pods)
    assert set(got) == {"u1", "u2"}  # a Job being deleted is not observed
    assert sorted(got["u1"]) == [1, 2]
    assert got["u1"][1].failed_reason == "BackoffLimitExceeded" and not got["u1"][2].failed_reason
    assert [p.name for p in got["u1"][1].pods] == ["t-1-x"]
    assert [p.name for p in got["u1"][2].pods] == ["t-2-y"]
    assert got["u2"][1].complete and [p.name for p in got["u2"][1].pods] == ["t-1-z"]


def test_a_pod_reads_its_main_container_state() -> None:
    times = {"startedAt": "2026-11-29T05:00:01Z", "finishedAt": "2026-11-29T05:00:04Z"}
    main = {"name": "main", "state": {"terminated": {"exitCode": 3, "reason": "Error", "message": "boom", **times}}}
    sidecar = {"name": "sidecar", "state": {"running": {"startedAt": "2026-11-29T05:00:01Z"}}}
    scheduled = [{"type": "PodScheduled", "status": "True"}]
    pod = _pod("a", "t-1", "t-1-x", phase="Failed", containerStatuses=[sidecar, main], conditions=scheduled)
    obs = pod_observation(pod)
    assert obs.terminated is not None and obs.terminated.exit_code == 3 and obs.terminated.message == "boom"
    assert obs.running_since is None and obs.unschedulable is None and not obs.deleting
    unschedulable = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes"}
    waiting = pod_observation(_pod("a", "t-1", "p", phase="Pending", conditions=[unschedulable]))
    assert waiting.unschedulable == "0/1 nodes" and waiting.phase == "Pending" and waiting.terminated is None
