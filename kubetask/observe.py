"""Plain observations of an attempt's Job and pod, and the pure reading of what they mean.

Adapters turn raw Kubernetes payloads into these frozen values; `outcome()` decides the attempt's
phase, reason, exit code and message from them without touching the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kubetask import conditions as c
from kubetask.models import Phase

IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "ImageInspectError"}
)
CREATE_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})


@dataclass(frozen=True)
class ContainerExit:
    exit_code: int
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class PodObservation:
    name: str
    phase: str  # Pending | Running | Succeeded | Failed | Unknown
    created: datetime | None = None
    reason: str | None = None  # pod-level, e.g. Evicted
    message: str | None = None
    waiting_reason: str | None = None
    waiting_message: str | None = None
    running_since: datetime | None = None
    terminated: ContainerExit | None = None
    deleting: bool = False
    unschedulable: str | None = None  # PodScheduled=False/Unschedulable: the scheduler's message


@dataclass(frozen=True)
class JobObservation:
    name: str
    attempt: int
    created: datetime | None = None
    complete: bool = False
    failed_reason: str | None = None  # Job condition Failed: DeadlineExceeded | BackoffLimitExceeded
    failed_message: str | None = None
    result_schema: dict[str, Any] | None = None
    timeout_seconds: int | None = None
    pods: tuple[PodObservation, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Outcome:
    """What an attempt's Job and pod say: its phase and, when it ended, why."""

    phase: Phase
    pod_name: str | None = None
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    start_time: datetime | None = None
    finish_time: datetime | None = None
    output: str | None = None  # termination message of a successful container: the result
    stop_job: bool = False  # the Job would linger (e.g. image pull back-off): delete it


def _latest_pod(job: JobObservation) -> PodObservation | None:
    if not job.pods:
        return None
    epoch = datetime.min

    def key(p: PodObservation) -> tuple[bool, datetime]:
        return (not p.deleting, (p.created or epoch).replace(tzinfo=None))

    return max(job.pods, key=key)


def _terminated(pod: PodObservation, t: ContainerExit) -> Outcome:
    base = Outcome(
        Phase.FAILED,
        pod_name=pod.name,
        exit_code=t.exit_code,
        start_time=t.started_at,
        finish_time=t.finished_at,
    )
    if t.exit_code == 0:
        return replace(base, phase=Phase.SUCCEEDED, reason=c.REASON_COMPLETED, output=t.message)
    if t.reason == "OOMKilled":
        msg = f"container exceeded its memory limit and was killed (exit code {t.exit_code})"
        return replace(base, reason=c.REASON_OOM_KILLED, message=msg)
    text = (t.message or "").strip()
    last = text.splitlines()[-1] if text else ""
    msg = f"exit code {t.exit_code}: {last}" if last else f"container exited with code {t.exit_code}"
    return replace(base, reason=c.REASON_NON_ZERO_EXIT, message=msg)


def outcome(job: JobObservation, *, now: datetime) -> Outcome:
    """Read the attempt's state off its Job and newest pod."""
    pod = _latest_pod(job)
    if job.failed_reason == "DeadlineExceeded":
        limit = f" of {job.timeout_seconds}s" if job.timeout_seconds else ""
        return Outcome(
            Phase.FAILED,
            pod_name=pod.name if pod else None,
            reason=c.REASON_DEADLINE_EXCEEDED,
            message=f"attempt ran longer than its timeout{limit} and was stopped",
            start_time=pod.running_since if pod else None,
            finish_time=now,
        )
    if pod is not None and pod.phase == "Failed" and pod.reason == "Evicted":  # the kubelet killed it
        return Outcome(Phase.FAILED, pod_name=pod.name, reason=c.REASON_EVICTED, message=pod.message or pod.reason,
                       finish_time=now)  # fmt: skip
    if pod is not None and pod.terminated is not None:
        return _terminated(pod, pod.terminated)
    if pod is not None and pod.phase == "Failed":
        reason = c.REASON_EVICTED if pod.reason == "Evicted" else c.REASON_POD_FAILED
        return Outcome(
            Phase.FAILED, pod_name=pod.name, reason=reason, message=pod.message or pod.reason, finish_time=now
        )
    if pod is not None and pod.waiting_reason in IMAGE_PULL_REASONS:
        msg = f"{pod.waiting_reason}: {pod.waiting_message or 'image cannot be pulled'}"
        return Outcome(
            Phase.FAILED,
            pod_name=pod.name,
            reason=c.REASON_IMAGE_PULL_FAILED,
            message=msg,
            finish_time=now,
            stop_job=True,
        )
    if pod is not None and pod.waiting_reason in CREATE_REASONS:
        msg = f"{pod.waiting_reason}: {pod.waiting_message or 'container cannot be created'}"
        return Outcome(
            Phase.FAILED,
            pod_name=pod.name,
            reason=c.REASON_CONTAINER_CREATE_FAILED,
            message=msg,
            finish_time=now,
            stop_job=True,
        )
    if pod is not None and (pod.running_since is not None or pod.phase == "Running"):
        return Outcome(Phase.RUNNING, pod_name=pod.name, start_time=pod.running_since or now)
    if job.complete:  # the pod is gone but the Job says it succeeded: no result to read
        return Outcome(Phase.SUCCEEDED, reason=c.REASON_COMPLETED, finish_time=now)
    if job.failed_reason:
        detail = f": {job.failed_message}" if job.failed_message else ""
        msg = f"Job failed ({job.failed_reason}) and its pod is gone{detail}"
        return Outcome(Phase.FAILED, reason=c.REASON_POD_LOST, message=msg, finish_time=now)
    # A pod that reports no container yet is named only once it does: its creation is not an event
    # the operator acts on (see relevance.py), so naming it earlier would depend on which event came.
    return Outcome(Phase.PENDING, pod_name=pod.name if pod is not None and pod.waiting_reason else None)
