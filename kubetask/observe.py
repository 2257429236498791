"""Plain observations of an attempt's Job and pod, and the pure reading of what they mean.

Raw Kubernetes payloads (the apiserver's JSON) are read into these frozen values here, without
I/O, so the reading is tested on plain dicts; `outcome()` decides the attempt's phase, reason,
exit code and message from them without touching the cluster. A container's termination message
is the executor's report when it is one (`kubetask.executor.report`): its result, or its failure
with what the handler said (a permanent one is `PermanentFailure`, or `ParamsRejected`); otherwise it is read as before
(a plain command's result, or the last line of a failure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kubetask import conditions as c
from kubetask.executor.report import Report, ResultRef, decode
from kubetask.jobs import LOG_FINALIZER
from kubetask.labels import ANNOTATION_RESULT_SCHEMA, ANNOTATION_TIMEOUT, LABEL_ATTEMPT, LABEL_TASK_UID
from kubetask.models import HandlerReport, Phase
from kubetask.timeutil import parse_time

RawObject = dict[str, Any]  # a Job or pod as the apiserver's JSON

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
    log_held: bool = False  # the pod still has the log finalizer: its log (and framed result) is not read yet


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
    result_ref: ResultRef | None = None  # a successful container's result framed in its log instead
    log_held: bool = False  # the pod keeps its log finalizer: its log and framed result are still to be read
    handler: HandlerReport | None = None  # what the executor's handler reported, if it did
    stop_job: bool = False  # the Job would linger (e.g. image pull back-off): delete it


def _unschedulable(conditions: list[RawObject]) -> str | None:
    """The scheduler's message when PodScheduled is False for want of a node."""
    for x in conditions:
        if (x.get("type"), x.get("status"), x.get("reason")) == ("PodScheduled", "False", "Unschedulable"):
            return x.get("message") or x.get("reason")
    return None


def _container_exit(term: RawObject) -> ContainerExit:
    return ContainerExit(
        exit_code=int(term.get("exitCode", 0)),
        reason=term.get("reason"),
        message=term.get("message"),
        started_at=parse_time(term.get("startedAt")),
        finished_at=parse_time(term.get("finishedAt")),
    )


def pod_observation(pod: RawObject) -> PodObservation:
    """Read a Pod (as JSON) into a PodObservation (the main container's state)."""
    meta, st = pod["metadata"], pod.get("status") or {}
    cs = next((s for s in st.get("containerStatuses") or [] if s.get("name") == "main"), None)
    state = (cs or {}).get("state") or {}
    waiting, running, term = state.get("waiting"), state.get("running"), state.get("terminated")
    return PodObservation(
        name=meta["name"],
        phase=st.get("phase") or "Pending",
        created=parse_time(meta.get("creationTimestamp")),
        reason=st.get("reason"),
        message=st.get("message"),
        waiting_reason=waiting.get("reason") if waiting else None,
        waiting_message=waiting.get("message") if waiting else None,
        running_since=parse_time(running.get("startedAt")) if running else None,
        terminated=_container_exit(term) if term else None,
        deleting=meta.get("deletionTimestamp") is not None,
        unschedulable=_unschedulable(st.get("conditions") or []),
        log_held=LOG_FINALIZER in (meta.get("finalizers") or []),
    )


def result_schema(annotations: dict[str, str]) -> dict[str, Any] | None:
    """The attempt's resultSchema, as kubetask.jobs annotates its Job and pod; None without one."""
    text = annotations.get(ANNOTATION_RESULT_SCHEMA)
    schema = json.loads(text) if text else None
    return schema if isinstance(schema, dict) else None


def job_observation(job: RawObject, pods: list[PodObservation]) -> JobObservation:
    """Read a Job (as JSON) and its pods into a JobObservation."""
    meta = job["metadata"]
    ann = meta.get("annotations") or {}
    conds = (job.get("status") or {}).get("conditions") or []
    failed = next((x for x in conds if x.get("type") == "Failed" and x.get("status") == "True"), None)
    complete = any(x.get("type") == "Complete" and x.get("status") == "True" for x in conds)
    timeout = ann.get(ANNOTATION_TIMEOUT)
    return JobObservation(
        name=meta["name"],
        attempt=int((meta.get("labels") or {}).get(LABEL_ATTEMPT, "1")),
        created=parse_time(meta.get("creationTimestamp")),
        complete=complete,
        failed_reason=failed.get("reason") if failed else None,
        failed_message=failed.get("message") if failed else None,
        result_schema=result_schema(ann),
        timeout_seconds=int(timeout) if timeout else None,
        pods=tuple(pods),
    )


def observations_by_task(jobs: list[RawObject], pods: list[RawObject]) -> dict[str, dict[int, JobObservation]]:
    """Jobs (and their pods) by Task uid and attempt; Jobs being deleted are left out."""
    by_job: dict[tuple[str, str], list[PodObservation]] = {}
    for p in pods:
        meta = p["metadata"]
        key = (meta.get("namespace", ""), (meta.get("labels") or {}).get("job-name", ""))
        by_job.setdefault(key, []).append(pod_observation(p))
    out: dict[str, dict[int, JobObservation]] = {}
    for j in jobs:
        meta = j["metadata"]
        if meta.get("deletionTimestamp") is not None:
            continue
        obs = job_observation(j, by_job.get((meta.get("namespace", ""), meta["name"]), []))
        out.setdefault((meta.get("labels") or {}).get(LABEL_TASK_UID, ""), {})[obs.attempt] = obs
    return out


def _latest_pod(job: JobObservation) -> PodObservation | None:
    if not job.pods:
        return None
    epoch = datetime.min

    def key(p: PodObservation) -> tuple[bool, datetime]:
        return (not p.deleting, (p.created or epoch).replace(tzinfo=None))

    return max(job.pods, key=key)


def handler_report(report: Report) -> HandlerReport:
    """The attempt's record of a report: who reported, and what it said of a failure."""
    f = report.failure
    return HandlerReport(
        name=report.handler,
        version=report.version,
        time=report.time,
        failure_kind=f.kind if f else None,
        retryable=f.retryable if f else None,
        retry_after_seconds=f.retry_after_seconds if f else None,
    )


def _failure_reason(kind: str, *, retryable: bool) -> str:
    """The attempt's reason for a handler's failure: a permanent one is PermanentFailure (ParamsRejected
    when the runtime refused the params for the handler's model, ResultTooLarge a result over the limit)."""
    if retryable:
        return c.REASON_NON_ZERO_EXIT
    if kind in (c.REASON_PARAMS_REJECTED, c.REASON_RESULT_TOO_LARGE):
        return kind
    return c.REASON_PERMANENT_FAILURE


def _terminated(pod: PodObservation, t: ContainerExit) -> Outcome:
    report = decode(t.message)
    base = Outcome(
        Phase.FAILED,
        pod_name=pod.name,
        exit_code=t.exit_code,
        start_time=t.started_at,
        finish_time=t.finished_at,
        handler=handler_report(report) if report is not None else None,
    )
    if t.exit_code == 0:
        if report is not None and report.result_ref is not None:
            ref, held = report.result_ref, pod.log_held
            return replace(base, phase=Phase.SUCCEEDED, reason=c.REASON_COMPLETED, result_ref=ref, log_held=held)
        output = t.message if report is None else json.dumps(report.result, separators=(",", ":"))
        return replace(base, phase=Phase.SUCCEEDED, reason=c.REASON_COMPLETED, output=output)
    if t.reason == "OOMKilled":
        msg = f"container exceeded its memory limit and was killed (exit code {t.exit_code})"
        return replace(base, reason=c.REASON_OOM_KILLED, message=msg)
    if report is not None and report.failure is not None:
        f = report.failure
        msg = f"exit code {t.exit_code}: {f.kind}: {f.message}"
        return replace(base, reason=_failure_reason(f.kind, retryable=f.retryable), message=msg)
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
        message = pod.message or pod.reason
        return Outcome(Phase.FAILED, pod_name=pod.name, reason=c.REASON_EVICTED, message=message, finish_time=now)
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
