"""Which pods hold the log finalizer, and when a pod's log is complete enough to be kept."""

from __future__ import annotations

from typing import Any

from kubetask.jobs import LOG_FINALIZER, build_job, resolve_run
from kubetask.log_capture import container_ended, ended_at
from kubetask.models import TaskSpec


def _job(*, keep_log: bool) -> dict[str, Any]:
    r = resolve_run(TaskSpec.model_validate({"image": "img:1"}), None)
    assert r is not None
    return build_job(r, task="t", namespace="ns", task_uid="u", attempt=1, params={}, keep_log=keep_log)


def test_the_pod_template_carries_the_log_finalizer_only_when_logs_are_kept() -> None:
    assert _job(keep_log=True)["spec"]["template"]["metadata"]["finalizers"] == [LOG_FINALIZER]
    assert "finalizers" not in _job(keep_log=False)["spec"]["template"]["metadata"]
    assert "finalizers" not in _job(keep_log=True)["metadata"]  # the Job itself never waits


def _pod(phase: str, state: dict[str, Any] | None = None, *, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "t-1-abc", "finalizers": [LOG_FINALIZER]}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T10:00:30Z"
    statuses = [{"name": "main", "state": state}] if state is not None else []
    return {"metadata": meta, "status": {"phase": phase, "containerStatuses": statuses}}


RUNNING = {"running": {"startedAt": "2026-12-02T10:00:00Z"}}
DONE = {"terminated": {"exitCode": 0, "finishedAt": "2026-12-02T10:00:20Z"}}


def test_a_running_container_log_is_not_complete_even_while_its_pod_is_deleted() -> None:
    assert not container_ended(_pod("Running", RUNNING), "main")
    assert not container_ended(_pod("Running", RUNNING, deleting=True), "main")
    assert not container_ended(_pod("Pending"), "main")


def test_a_terminated_container_or_a_finished_pod_has_its_whole_log() -> None:
    assert container_ended(_pod("Running", DONE), "main")
    assert container_ended(_pod("Succeeded", DONE), "main")
    assert container_ended(_pod("Failed"), "main")
    assert ended_at(_pod("Failed", DONE), "main") == "2026-12-02T10:00:20Z"


def test_a_pod_deleted_before_its_container_ran_has_nothing_more_to_wait_for() -> None:
    pending = _pod("Pending", {"waiting": {"reason": "ContainerCreating"}}, deleting=True)
    assert container_ended(pending, "main")
    assert ended_at(pending, "main") == "2026-12-02T10:00:30Z"
    assert ended_at(_pod("Pending"), "main") is None
