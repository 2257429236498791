"""The Task state machine: from what is observed to the next status, the Jobs to create or stop,
the events to post and when to look again.

`decide()` is pure: it takes the Task, its template (or the fact that it is missing), the observed
Jobs and pods and "now", and returns a `Decision`. The operator performs it (create or delete
Jobs, write the status once, then post the events, wake up at `requeue_at`), so the same inputs
always give the same writes and a restarted operator re-derives everything from the cluster.
Final phases are absorbing; the only thing left to do for them is the TTL.

All status math is here, including the attempt record of a Job about to be created: a Decision
that creates attempt N already carries the status and the JobCreated Event as they are once
that Job exists, so the operator only creates the Job and reports whether it could (a Job of
another Task in the way means nothing is written and the decision is taken again later).

    Scheduled ─spec.runAt reached─► Pending (no Job before runAt; spec, template and params checked at once)
       │
    Pending ─Job created─► Pending ─running─► Running ─exit 0, valid result─► Succeeded
       │ TemplateNotFound waits                 │
       │                                        └─failure─► retryable, attempts left? ─yes─► Retrying ─delay─► Pending
       └─invalid spec/params─► Failed                                │ no (attempts used up, or the deadline
                                                                     │ leaves no time for the next one):
                                                                     │ retryable, maxAttempts > 1? DeadLettered : Failed
    spec.cancel at any time ─► Cancelled (the running attempt's Job is deleted)
    deadlineSeconds over (all attempts) ─► Failed/DeadlineExceeded

A Task with a future `spec.runAt` is Scheduled until then, derived from the spec alone (the wake-up
at runAt is armed again by every reconcile, so a restarted operator keeps it). What can be refused
before the wait is refused at once (no templateRef nor image, params against the template's
paramSchema); a missing template warns at once and is waited for, as without runAt. The checks run
again at runAt, against the template as it is then. deadlineSeconds counts from runAt when that is
later than the creation: a delayed Task's budget does not drain while it waits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from kubetask import conditions as c
from kubetask import retry, schema_check
from kubetask.executor.report import ResultRef
from kubetask.jobs import ResolvedRun, job_name, resolve_run
from kubetask.large_results import VERDICT_RECHECK_SECONDS, Verdict, lost
from kubetask.log_capture import size_text
from kubetask.models import (
    FINAL_PHASES,
    Attempt,
    ConditionStatus,
    LargeResult,
    Phase,
    ResolvedPolicy,
    Task,
    TaskStatus,
    TaskTemplateSpec,
)
from kubetask.observe import JobObservation, Outcome, outcome
from kubetask.policy import DEFAULT_TTL_AFTER_FINISHED, resolve_policy

# The Job controller enforces timeoutSeconds (activeDeadlineSeconds); the operator steps in itself
# when the Job controller is this late.
ENFORCE_GRACE = timedelta(seconds=10)
_FINAL_CONDITION = {
    Phase.SUCCEEDED: c.SUCCEEDED,
    Phase.FAILED: c.FAILED,
    Phase.DEAD_LETTERED: c.DEAD_LETTERED,
    Phase.CANCELLED: c.CANCELLED,
}


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the Task after the status write succeeded."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    status: TaskStatus
    create_attempt: int | None = None  # create the Job of this attempt (`status` already records it)
    resolved: ResolvedRun | None = None  # what that Job runs
    delete_jobs: tuple[str, ...] = ()
    events: tuple[Event, ...] = field(default_factory=tuple)
    requeue_at: datetime | None = None  # decide again at this time even without events
    expire: bool = False  # the TTL after finishing has passed: delete the Task once it is in history


@dataclass(frozen=True)
class Observed:
    task: Task
    generation: int
    template: TaskTemplateSpec | None
    template_missing: bool
    jobs: dict[int, JobObservation]
    now: datetime
    created: datetime | None = None  # the Task's creationTimestamp
    # verdicts kept in SQL on large results (framed in the log), by attempt; only attempts that may need one
    results: dict[int, Verdict] = field(default_factory=dict)
    results_kept: bool = True  # a log keeper reads large results (false: the operator runs without SQL)


def format_duration(seconds: float) -> str:
    """kubectl-style duration: 45s, 3m7s, 2h5m, 3d4h."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def is_final(phase: Phase) -> bool:
    return phase in FINAL_PHASES


def _earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


def _cond(status: TaskStatus, o: Observed, type_: str, value: ConditionStatus, reason: str, message: str) -> TaskStatus:
    conds = c.set_condition(
        status.conditions, type_=type_, status=value, reason=reason, message=message, now=o.now, generation=o.generation
    )
    return status.model_copy(update={"conditions": conds})


def _finish(
    status: TaskStatus, o: Observed, *, phase: Phase, reason: str, message: str, at: datetime, result: Any = None
) -> TaskStatus:
    for t in (c.RUNNING, c.RETRYING):
        if c.get_condition(status.conditions, t) is not None:
            status = _cond(status, o, t, "False", reason, message)
    status = _cond(status, o, _FINAL_CONDITION[phase], "True", reason, message)
    start = status.start_time
    return status.model_copy(
        update={
            "phase": phase,
            "reason": reason,
            "message": message,
            "result": result,
            "completion_time": at,
            "next_attempt_time": None,
            "duration": format_duration((at - start).total_seconds()) if start else None,
        }
    )


def _final_decision(old: TaskStatus, new: TaskStatus, *, delete_jobs: tuple[str, ...] = ()) -> Decision:
    kind = "Normal" if new.phase in (Phase.SUCCEEDED, Phase.CANCELLED) else "Warning"
    events = (Event(kind, new.reason or new.phase.value, new.message or ""),) if old.phase != new.phase else ()
    return Decision(status=new, events=events, delete_jobs=delete_jobs)


def _reject(o: Observed, status: TaskStatus, *, reason: str, message: str) -> Decision:
    new = _cond(status, o, c.ACCEPTED, "False", reason, message)
    return _final_decision(status, _finish(new, o, phase=Phase.FAILED, reason=reason, message=message, at=o.now))


def _template_missing(o: Observed, status: TaskStatus, *, until: datetime | None = None) -> Decision:
    """Wait for the template (Pending, or Retrying between attempts; Scheduled `until` runAt)."""
    name = o.task.spec.template_ref.name if o.task.spec.template_ref else ""
    msg = f"TaskTemplate {name!r} not found in this namespace; the task starts when it is created"
    if until is not None:
        msg += f", not before its runAt {_iso(until)}"
    new = _cond(status, o, c.ACCEPTED, "False", c.REASON_TEMPLATE_NOT_FOUND, msg)
    if until is not None:
        new = new.model_copy(update={"phase": Phase.SCHEDULED})
    elif status.phase != Phase.RETRYING:
        new = new.model_copy(update={"phase": Phase.PENDING})
    new = new.model_copy(update={"reason": c.REASON_TEMPLATE_NOT_FOUND, "message": msg})
    events = (
        () if status.reason == c.REASON_TEMPLATE_NOT_FOUND else (Event("Warning", c.REASON_TEMPLATE_NOT_FOUND, msg),)
    )
    return Decision(status=new, events=events, requeue_at=_wake_at(until) if until is not None else None)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _wake_at(t: datetime) -> datetime:
    """The first whole second at or after `t`: the operator's "now" has whole seconds (as Kubernetes'
    timestamps), so a wake-up inside the second of `t` would find it not yet due and spin."""
    return t if t.microsecond == 0 else t.replace(microsecond=0) + timedelta(seconds=1)


def _resolve(o: Observed, status: TaskStatus, *, first: bool, until: datetime | None = None) -> ResolvedRun | Decision:
    """What the attempt runs, or the decision that stops it: an invalid spec or (`first` attempt)
    invalid params fail the task, a missing template waits (Scheduled `until` runAt, if given)."""
    spec = o.task.spec
    if spec.template_ref is None and not spec.image:
        msg = "spec.templateRef or spec.image is required: name a TaskTemplate or an image to run"
        return _reject(o, status, reason=c.REASON_INVALID_SPEC, message=msg)
    if o.template_missing:
        return _template_missing(o, status, until=until)
    resolved = resolve_run(spec, o.template)
    if resolved is None:
        msg = "no image to run: set spec.image or the template's spec.image"
        return _reject(o, status, reason=c.REASON_INVALID_SPEC, message=msg)
    if first:
        errors = schema_check.validate(spec.params if spec.params is not None else {}, resolved.param_schema)
        if errors:
            msg = "params do not match the template's paramSchema: " + schema_check.summarize(errors)
            return _reject(o, status, reason=c.REASON_INVALID_PARAMS, message=msg)
    return resolved


def _scheduled(o: Observed, status: TaskStatus, run_at: datetime) -> Decision:
    """Before spec.runAt: refuse now what would be refused then, else wait (no Job) and wake at runAt."""
    resolved = _resolve(o, status, first=True, until=run_at)
    if isinstance(resolved, Decision):
        return resolved
    msg = f"waiting for spec.runAt {_iso(run_at)}; no Job before then"
    new = _cond(status, o, c.ACCEPTED, "Unknown", c.REASON_SCHEDULED, msg)
    new = new.model_copy(update={"phase": Phase.SCHEDULED, "reason": c.REASON_SCHEDULED, "message": msg})
    said = (status.phase, status.reason, status.message) == (Phase.SCHEDULED, c.REASON_SCHEDULED, msg)
    events = () if said else (Event("Normal", c.REASON_SCHEDULED, f"first attempt at {_iso(run_at)}"),)
    return Decision(status=new, events=events, requeue_at=_wake_at(run_at))


def _start(o: Observed, status: TaskStatus, number: int) -> Decision:
    """Resolve, validate (first attempt), then ask for the Job of attempt `number`."""
    resolved = _resolve(o, status, first=number == 1)
    if isinstance(resolved, Decision):
        return resolved
    if number == 1:
        status = status.model_copy(update={"policy": resolved.policy})
    # Look again when the new pod would be pending too long (or the task runs out of time): events of a
    # pod that merely waits to be scheduled are not delivered to reconciles (kubetask.relevance).
    policy = status.policy or resolved.policy
    pending = o.now + timedelta(seconds=policy.pending_timeout_seconds) if policy.pending_timeout_seconds else None
    job = job_name(o.task.metadata.get("name", ""), number)
    status = record_attempt(status, number=number, job=job, now=o.now, gen=o.generation)
    created = Event("Normal", c.REASON_JOB_CREATED, f"Created Job {job} for attempt {number}")
    requeue_at = _earliest(pending, _deadline(o, policy))
    return Decision(status=status, create_attempt=number, resolved=resolved, events=(created,), requeue_at=requeue_at)


def record_attempt(status: TaskStatus, *, number: int, job: str, now: datetime, gen: int) -> TaskStatus:
    """Status once the Job of attempt `number` exists (created, or found); recording it again changes nothing."""
    attempts = [a for a in status.attempts if a.number != number]
    attempts.append(Attempt(number=number, job_name=job))
    msg = f"Job {job} created for attempt {number}"
    conds = c.set_condition(
        status.conditions,
        type_=c.ACCEPTED,
        status="True",
        reason=c.REASON_ACCEPTED,
        message=msg,
        now=now,
        generation=gen,
    )
    if c.get_condition(conds, c.RETRYING) is not None:
        conds = c.set_condition(
            conds, type_=c.RETRYING, status="False", reason=c.REASON_JOB_CREATED, message=msg, now=now, generation=gen
        )
    return status.model_copy(
        update={
            "attempts": sorted(attempts, key=lambda a: a.number),
            "attempt_count": max(number, status.attempt_count),
            "conditions": conds,
            "phase": Phase.PENDING,
            "reason": c.REASON_JOB_CREATED,
            "message": msg,
            "next_attempt_time": None,
        }
    )


def _parse_result(out: Outcome, schema: dict[str, Any] | None) -> tuple[Any, str | None]:
    """(result, error): the termination message as JSON, checked against the result schema."""
    text = (out.output or "").strip()
    if not text:
        result: Any = None
    else:
        try:
            result = json.loads(text)
        except json.JSONDecodeError:
            if schema is not None:
                return None, f"result is not JSON: {text[:200]!r}"
            result = text  # a plain command without a result schema: keep its message as text
    errors = schema_check.validate(result, schema)
    if errors:
        return None, "result does not match the template's resultSchema: " + schema_check.summarize(errors)
    return result, None


def _with_attempt(status: TaskStatus, number: int, **update: Any) -> TaskStatus:
    attempts = [a.model_copy(update=update) if a.number == number else a for a in status.attempts]
    return status.model_copy(update={"attempts": attempts})


def _fail(
    o: Observed, status: TaskStatus, policy: ResolvedPolicy, number: int, out: Outcome, stop: tuple[str, ...]
) -> Decision:
    """Attempt `number` failed: retry it later, dead-letter the task, or fail it."""
    reason = out.reason or c.REASON_POD_FAILED
    message = out.message or reason
    at = out.finish_time or o.now
    status = _with_attempt(status, number, phase=Phase.FAILED, reason=reason, message=message, finish_time=at)
    can_retry = retry.retryable(policy, reason=reason, exit_code=out.exit_code)
    if can_retry and number < policy.max_attempts:
        wait = retry.delay(policy, number, retry.jitter_draw(str(o.task.metadata.get("uid", "")), number))
        nxt = at + timedelta(seconds=round(wait, 3))
        said = out.handler
        floor = retry.retry_after(policy, said.retry_after_seconds if said else None)
        if said is not None and floor is not None:  # the handler's Retry-After counts from when it raised,
            # by the pod's clock; never later than the container's exit (a skewed clock cannot stretch it)
            since = min(said.time or at, at + timedelta(seconds=1))  # finishedAt has whole seconds
            nxt = max(nxt, _wake_at(since + timedelta(seconds=floor)))
            wait = (nxt - at).total_seconds()
        deadline = _deadline(o, policy)
        if deadline is None or nxt < deadline:
            msg = f"attempt {number} failed ({reason}: {message}); attempt {number + 1} in {wait:.1f}s"
            new = _cond(status, o, c.RETRYING, "True", reason, msg)
            if c.get_condition(new.conditions, c.RUNNING) is not None:
                new = _cond(new, o, c.RUNNING, "False", reason, msg)
            update = {"phase": Phase.RETRYING, "reason": c.REASON_RETRYING, "message": msg, "next_attempt_time": nxt}
            new = new.model_copy(update=update)
            events = (Event("Warning", c.REASON_RETRYING, msg),)
            return Decision(status=new, events=events, delete_jobs=stop, requeue_at=nxt)
        message += "; no retry: the task's deadline leaves no time for another attempt"
    if can_retry and policy.max_attempts > 1:
        # retries were wanted and this failure was retryable: the dead-letter queue is where it waits for a
        # redrive, whether the attempts ran out or the deadline cut them short
        used = (
            f"all {number} attempts" if number >= policy.max_attempts else f"attempt {number} of {policy.max_attempts}"
        )
        msg = f"{used} failed; last: {reason}: {message}"
        new = _finish(status, o, phase=Phase.DEAD_LETTERED, reason=reason, message=msg, at=at)
        new = _cond(new, o, c.DEAD_LETTERED, "True", c.REASON_ATTEMPTS_EXHAUSTED, msg)
        return _final_decision(o.task.status or TaskStatus(), new, delete_jobs=stop)
    new = _finish(status, o, phase=Phase.FAILED, reason=reason, message=message, at=at)
    return _final_decision(o.task.status or TaskStatus(), new, delete_jobs=stop)


def _deadline(o: Observed, policy: ResolvedPolicy) -> datetime | None:
    """deadlineSeconds counts from the creation, or from spec.runAt when that is later."""
    since = max((t for t in (o.created, o.task.spec.run_at) if t is not None), default=None)
    if policy.deadline_seconds is None or since is None:
        return None
    return since + timedelta(seconds=policy.deadline_seconds)


def _enforce_times(o: Observed, policy: ResolvedPolicy, job: JobObservation, out: Outcome) -> Outcome:
    """Pending too long, or running past the timeout while the Job controller lags: fail it ourselves."""
    now = o.now
    if out.phase == Phase.PENDING and policy.pending_timeout_seconds and job.created:
        limit = job.created + timedelta(seconds=policy.pending_timeout_seconds)
        if now >= limit:
            pod = next((p for p in job.pods if p.unschedulable), None)
            if pod is not None:
                msg = f"pod could not be scheduled within {policy.pending_timeout_seconds}s: {pod.unschedulable}"
                return Outcome(
                    Phase.FAILED,
                    pod_name=pod.name,
                    reason=c.REASON_UNSCHEDULABLE,
                    finish_time=now,
                    message=msg,
                    stop_job=True,
                )
            return Outcome(
                Phase.FAILED,
                pod_name=out.pod_name,
                reason=c.REASON_PENDING_TIMEOUT,
                finish_time=now,
                message=f"pod not running after {policy.pending_timeout_seconds}s",
                stop_job=True,
            )
    if out.phase == Phase.RUNNING and policy.timeout_seconds and out.start_time:
        if now >= out.start_time + timedelta(seconds=policy.timeout_seconds) + ENFORCE_GRACE:
            return replace(
                out,
                phase=Phase.FAILED,
                reason=c.REASON_DEADLINE_EXCEEDED,
                finish_time=now,
                stop_job=True,
                message=f"attempt ran longer than its timeout of {policy.timeout_seconds}s and was stopped",
            )
    return out


def _next_check(o: Observed, policy: ResolvedPolicy, job: JobObservation | None, out: Outcome) -> datetime | None:
    pending = None
    if out.phase == Phase.PENDING and policy.pending_timeout_seconds and job is not None and job.created:
        pending = job.created + timedelta(seconds=policy.pending_timeout_seconds)
    running = None
    if out.phase == Phase.RUNNING and policy.timeout_seconds and out.start_time:
        running = out.start_time + timedelta(seconds=policy.timeout_seconds) + ENFORCE_GRACE
    return _earliest(pending, running, _deadline(o, policy))


def _progress(o: Observed, status: TaskStatus, policy: ResolvedPolicy, number: int) -> Decision:
    """An attempt is under way: mirror its Job/pod state into the status."""
    job = o.jobs.get(number)
    if job is None:
        name = job_name(o.task.metadata.get("name", ""), number)
        msg = f"Job {name} of attempt {number} was deleted before it finished"
        out = Outcome(Phase.FAILED, reason=c.REASON_POD_LOST, finish_time=o.now, message=msg)
    else:
        out = _enforce_times(o, policy, job, outcome(job, now=o.now))
    stop = (job.name,) if job is not None and out.stop_job else ()
    prev = next(a for a in status.attempts if a.number == number)
    status = _with_attempt(
        status,
        number,
        pod_name=out.pod_name or prev.pod_name,
        phase=out.phase,
        start_time=out.start_time or prev.start_time,
        finish_time=out.finish_time if is_final(out.phase) else None,
        exit_code=out.exit_code,
        reason=out.reason,
        message=out.message,
        handler=out.handler or prev.handler,
    )
    if out.start_time and status.start_time is None:
        status = status.model_copy(update={"start_time": out.start_time})
    if out.phase == Phase.FAILED:
        return _fail(o, status, policy, number, out, stop)
    if out.phase == Phase.SUCCEEDED:
        assert job is not None
        ref = out.result_ref or _ref_of(prev.large_result)
        if ref is not None or (out.output is None and number in o.results):
            return _large(o, status, policy, number, out, stop, ref)
        result, error = _parse_result(out, job.result_schema)
        if error is not None:
            return _fail(
                o,
                status,
                policy,
                number,
                replace(out, phase=Phase.FAILED, reason=c.REASON_INVALID_RESULT, message=error),
                stop,
            )
        msg = f"attempt {number} succeeded"
        at = out.finish_time or o.now
        new = _finish(status, o, phase=Phase.SUCCEEDED, reason=c.REASON_COMPLETED, message=msg, at=at, result=result)
        return _final_decision(o.task.status or TaskStatus(), new)
    requeue = _next_check(o, policy, job, out)
    if out.phase == Phase.PENDING:
        return Decision(status=status, requeue_at=requeue)
    msg = f"attempt {number} running in pod {out.pod_name}"
    new = _cond(status, o, c.RUNNING, "True", c.REASON_STARTED, msg)
    events = (Event("Normal", c.REASON_STARTED, msg),) if status.phase != Phase.RUNNING else ()
    new = new.model_copy(update={"phase": Phase.RUNNING, "reason": c.REASON_STARTED, "message": msg})
    return Decision(status=new, events=events, requeue_at=requeue)


def wants_verdict(job: JobObservation, now: datetime) -> bool:
    """Whether deciding on `job`'s attempt needs its large-result verdict (`Observed.results`, read from
    SQL): it exited 0 with a result framed in its log, or its Job completed with its pod gone (the
    pod's report may have named one). A pod seen without a reference has its result, or none, in its
    termination message: no read, so such a Task finishes while the database is down."""
    out = outcome(job, now=now)
    return out.phase == Phase.SUCCEEDED and (out.result_ref is not None or (out.output is None and not job.pods))


def _ref_of(large: LargeResult | None) -> ResultRef | None:
    return ResultRef(large.size, large.sha256, large.preview) if large is not None else None


def _large(
    o: Observed,
    status: TaskStatus,
    policy: ResolvedPolicy,
    number: int,
    out: Outcome,
    stop: tuple[str, ...],
    ref: ResultRef | None,
) -> Decision:
    """Attempt `number` exited 0 with a result framed in its log: Succeeded only on the verdict kept in
    SQL (accepted), failed on a refusal; without a verdict yet it stays Running and is looked at again."""
    verdict = o.results.get(number)
    if ref is None:  # the pod is gone; the verdict (found in SQL) says what it was
        assert verdict is not None
        ref = ResultRef(verdict.size, verdict.sha256, verdict.preview)
    large = LargeResult(attempt=number, size=ref.size, sha256=ref.sha256, preview=ref.preview)
    status = _with_attempt(status, number, large_result=large)
    if verdict is None and not o.results_kept:
        why = "large results need the operator's log keeper (KUBETASK_OPERATOR_MIRROR=false or _KEEP_LOGS=false)"
        verdict = lost(number, ref, why)
    elif verdict is None and out.result_ref is None:
        verdict = lost(number, ref, "the attempt's pod is gone and its result was never read from its log")
    elif verdict is None and not out.log_held:  # the keeper let the pod go after its bounded wait
        verdict = lost(number, ref, "the attempt's pod was let go before its result could be kept (database down)")
    if verdict is None:
        msg = f"attempt {number} exited 0; its result ({size_text(ref.size)}) is being read from its log and checked"
        status = _with_attempt(status, number, phase=Phase.RUNNING, finish_time=None, reason=None, message=msg)
        new = _cond(status, o, c.RUNNING, "True", c.REASON_STARTED, msg)
        events = (Event("Normal", c.REASON_STARTED, msg),) if status.phase != Phase.RUNNING else ()
        new = new.model_copy(update={"phase": Phase.RUNNING, "reason": c.REASON_STARTED, "message": msg})
        return Decision(status=new, events=events, requeue_at=o.now + timedelta(seconds=VERDICT_RECHECK_SECONDS))
    if not verdict.accepted:
        refused = replace(out, phase=Phase.FAILED, reason=verdict.reason, message=verdict.message)
        status = _with_attempt(status, number, phase=Phase.FAILED, reason=verdict.reason, message=verdict.message)
        return _fail(o, status, policy, number, refused, stop)
    msg = f"attempt {number} succeeded; its result ({size_text(ref.size)}) is kept in SQL"
    at = out.finish_time or o.now
    status = _with_attempt(status, number, phase=Phase.SUCCEEDED, finish_time=at, reason=c.REASON_COMPLETED)
    new = _finish(status, o, phase=Phase.SUCCEEDED, reason=c.REASON_COMPLETED, message=msg, at=at)
    new = new.model_copy(update={"large_result": large})
    return _final_decision(o.task.status or TaskStatus(), new)


def _cancel(o: Observed, status: TaskStatus) -> Decision:
    current = max((a.number for a in status.attempts), default=0)
    job = o.jobs.get(current)
    stop: tuple[str, ...] = ()
    msg = "cancelled on request (spec.cancel)"
    att = next((a for a in status.attempts if a.number == current), None)
    if att is not None and not is_final(att.phase):
        cancelled = {"phase": Phase.CANCELLED, "reason": c.REASON_CANCELLED, "message": msg, "finish_time": o.now}
        status = _with_attempt(status, current, **cancelled)
        if job is not None:
            stop = (job.name,)
            msg += f"; Job {job.name} of attempt {current} deleted"
    new = _finish(status, o, phase=Phase.CANCELLED, reason=c.REASON_CANCELLED, message=msg, at=o.now)
    return _final_decision(status, new, delete_jobs=stop)


def _over_deadline(o: Observed, status: TaskStatus, policy: ResolvedPolicy) -> Decision:
    msg = f"the task ran past its deadline of {policy.deadline_seconds}s (all attempts included) and was stopped"
    current = max((a.number for a in status.attempts), default=0)
    att = next((a for a in status.attempts if a.number == current), None)
    stop: tuple[str, ...] = ()
    if att is not None and not is_final(att.phase):
        stopped = {"phase": Phase.FAILED, "reason": c.REASON_DEADLINE_EXCEEDED, "message": msg, "finish_time": o.now}
        status = _with_attempt(status, current, **stopped)
        job = o.jobs.get(current)
        stop = (job.name,) if job is not None else ()
    new = _finish(status, o, phase=Phase.FAILED, reason=c.REASON_DEADLINE_EXCEEDED, message=msg, at=o.now)
    return _final_decision(status, new, delete_jobs=stop)


def _finished(o: Observed, status: TaskStatus) -> Decision:
    """A final task: only its TTL is left."""
    ttl = status.policy.ttl_seconds_after_finished if status.policy else DEFAULT_TTL_AFTER_FINISHED
    if ttl is None or status.completion_time is None:
        return Decision(status=status)
    expires = status.completion_time + timedelta(seconds=ttl)
    return Decision(status=status, expire=o.now >= expires, requeue_at=None if o.now >= expires else expires)


def decide(o: Observed) -> Decision:
    """The next status of the Task, and what to do to get there."""
    status = (o.task.status or TaskStatus()).model_copy(update={"observed_generation": o.generation})
    if is_final(status.phase):
        return _finished(o, status)
    if o.task.spec.cancel:
        return _cancel(o, status)
    policy = status.policy or resolve_policy(o.task.spec, o.template)
    deadline = _deadline(o, policy)
    if deadline is not None and o.now >= deadline:
        return _over_deadline(o, status, policy)
    current = max((a.number for a in status.attempts), default=0)
    found = max(o.jobs, default=0)
    if found > current:  # Job created, then the operator died before recording it: adopt it
        status = record_attempt(status, number=found, job=o.jobs[found].name, now=o.now, gen=o.generation)
        current = found
    if current == 0:
        run_at = o.task.spec.run_at
        return _scheduled(o, status, run_at) if run_at is not None and o.now < run_at else _start(o, status, 1)
    last = next(a for a in status.attempts if a.number == current)
    if is_final(last.phase):  # between attempts
        if status.phase != Phase.RETRYING:  # cannot happen (one status write); never start an attempt unasked
            return Decision(status=status)
        nxt = status.next_attempt_time
        if nxt is not None and o.now < nxt:
            return Decision(status=status, requeue_at=_earliest(nxt, deadline))
        return _start(o, status, current + 1)
    return _progress(o, status, policy, current)
