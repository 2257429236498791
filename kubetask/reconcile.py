"""The Task state machine: from what is observed to the next status, Job to create and events.

`decide()` is pure: it takes the Task, its template (or the fact that it is missing), the observed
Jobs and pods and "now", and returns a `Decision`. The operator performs the decision (create the
Job, write the status once, then emit the events), so the same inputs always give the same writes
and a restarted operator re-derives everything from the cluster. Final phases are absorbing.

    Pending ──Job created──► Pending ──container running──► Running ──exit 0, valid result──► Succeeded
       │  (TemplateNotFound: waits, recovers)                    └──exit≠0 / OOM / deadline──► Failed
       └──invalid spec / params──► Failed
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubetask import conditions as c
from kubetask import schemas
from kubetask.jobs import Resolved, job_name, resolve
from kubetask.models import Attempt, Phase, Task, TaskStatus, TaskTemplateSpec
from kubetask.observe import JobObservation, Outcome, outcome

FINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELLED, Phase.DEAD_LETTERED})


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the Task after the status write succeeded."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    status: TaskStatus
    create_attempt: int | None = None  # create the Job of this attempt (then record it)
    resolved: Resolved | None = None  # what that Job runs
    delete_jobs: tuple[str, ...] = ()
    events: tuple[Event, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Observed:
    task: Task
    generation: int
    template: TaskTemplateSpec | None
    template_missing: bool
    jobs: dict[int, JobObservation]
    now: datetime


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


def _finish(
    status: TaskStatus,
    *,
    phase: Phase,
    reason: str,
    message: str,
    now: datetime,
    gen: int,
    result: Any = None,
) -> TaskStatus:
    conds = status.conditions
    if c.get_condition(conds, c.RUNNING) is not None:
        conds = c.set_condition(
            conds, type_=c.RUNNING, status="False", reason=reason, message=message, now=now, generation=gen
        )
    final_type = c.SUCCEEDED if phase == Phase.SUCCEEDED else c.FAILED
    conds = c.set_condition(
        conds, type_=final_type, status="True", reason=reason, message=message, now=now, generation=gen
    )
    start = status.start_time
    return status.model_copy(
        update={
            "phase": phase,
            "reason": reason,
            "message": message,
            "conditions": conds,
            "result": result,
            "completion_time": now,
            "duration": format_duration((now - start).total_seconds()) if start else None,
        }
    )


def _reject(status: TaskStatus, *, reason: str, message: str, now: datetime, gen: int) -> TaskStatus:
    conds = c.set_condition(
        status.conditions,
        type_=c.ACCEPTED,
        status="False",
        reason=reason,
        message=message,
        now=now,
        generation=gen,
    )
    return _finish(
        status.model_copy(update={"conditions": conds}),
        phase=Phase.FAILED,
        reason=reason,
        message=message,
        now=now,
        gen=gen,
    )


def _start(o: Observed, status: TaskStatus) -> Decision:
    """No attempt yet: resolve, validate, then ask for the first Job."""
    spec, now, gen = o.task.spec, o.now, o.generation
    if spec.template_ref is None and not spec.image:
        msg = "spec.templateRef or spec.image is required: name a TaskTemplate or an image to run"
        return _final_decision(status, _reject(status, reason=c.REASON_INVALID_SPEC, message=msg, now=now, gen=gen))
    if o.template_missing:
        name = spec.template_ref.name if spec.template_ref else ""
        msg = f"TaskTemplate {name!r} not found in this namespace; the task starts when it is created"
        conds = c.set_condition(
            status.conditions,
            type_=c.ACCEPTED,
            status="False",
            reason=c.REASON_TEMPLATE_NOT_FOUND,
            message=msg,
            now=now,
            generation=gen,
        )
        new = status.model_copy(
            update={
                "phase": Phase.PENDING,
                "reason": c.REASON_TEMPLATE_NOT_FOUND,
                "message": msg,
                "conditions": conds,
            }
        )
        events = (
            ()
            if status.reason == c.REASON_TEMPLATE_NOT_FOUND
            else (Event("Warning", c.REASON_TEMPLATE_NOT_FOUND, msg),)
        )
        return Decision(status=new, events=events)
    resolved = resolve(spec, o.template)
    if resolved is None:
        msg = "no image to run: set spec.image or the template's spec.image"
        return _final_decision(status, _reject(status, reason=c.REASON_INVALID_SPEC, message=msg, now=now, gen=gen))
    errors = schemas.validate(spec.params if spec.params is not None else {}, resolved.param_schema)
    if errors:
        msg = "params do not match the template's paramSchema: " + schemas.summarize(errors)
        return _final_decision(status, _reject(status, reason=c.REASON_INVALID_PARAMS, message=msg, now=now, gen=gen))
    return Decision(status=status, create_attempt=1, resolved=resolved)


def _final_decision(old: TaskStatus, new: TaskStatus) -> Decision:
    kind = "Normal" if new.phase == Phase.SUCCEEDED else "Warning"
    events = (Event(kind, new.reason or new.phase.value, new.message or ""),) if old.phase != new.phase else ()
    return Decision(status=new, events=events)


def record_attempt(status: TaskStatus, *, number: int, job: str, now: datetime, gen: int) -> TaskStatus:
    """Status after the Job of attempt `number` was created (or found)."""
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
    return status.model_copy(
        update={
            "attempts": sorted(attempts, key=lambda a: a.number),
            "attempt_count": max(number, status.attempt_count),
            "conditions": conds,
            "phase": Phase.PENDING,
            "reason": c.REASON_JOB_CREATED,
            "message": msg,
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
    errors = schemas.validate(result, schema)
    if errors:
        return None, "result does not match the template's resultSchema: " + schemas.summarize(errors)
    return result, None


def _progress(o: Observed, status: TaskStatus, job: JobObservation) -> Decision:
    """An attempt exists: mirror its Job/pod state into the status."""
    now, gen = o.now, o.generation
    out = outcome(job, now=now)
    attempts = list(status.attempts)
    idx = next(i for i, a in enumerate(attempts) if a.number == job.attempt)
    attempts[idx] = attempts[idx].model_copy(
        update={
            "pod_name": out.pod_name or attempts[idx].pod_name,
            "phase": out.phase,
            "start_time": out.start_time or attempts[idx].start_time,
            "finish_time": out.finish_time if is_final(out.phase) else None,
            "exit_code": out.exit_code,
            "reason": out.reason,
            "message": out.message,
        }
    )
    status = status.model_copy(update={"attempts": attempts})
    if out.phase == Phase.PENDING:
        return Decision(status=status)
    if out.start_time and status.start_time is None:
        status = status.model_copy(update={"start_time": out.start_time})
    if out.phase == Phase.RUNNING:
        msg = f"attempt {job.attempt} running in pod {out.pod_name}"
        conds = c.set_condition(
            status.conditions,
            type_=c.RUNNING,
            status="True",
            reason=c.REASON_STARTED,
            message=msg,
            now=now,
            generation=gen,
        )
        events = (Event("Normal", c.REASON_STARTED, msg),) if status.phase != Phase.RUNNING else ()
        new = status.model_copy(
            update={"phase": Phase.RUNNING, "reason": c.REASON_STARTED, "message": msg, "conditions": conds}
        )
        return Decision(status=new, events=events)
    finished = out.finish_time or now
    if out.phase == Phase.SUCCEEDED:
        result, error = _parse_result(out, job.result_schema)
        if error is None:
            new = _finish(
                status,
                phase=Phase.SUCCEEDED,
                reason=c.REASON_COMPLETED,
                message=f"attempt {job.attempt} succeeded",
                now=finished,
                gen=gen,
                result=result,
            )
        else:
            new = _finish(
                status,
                phase=Phase.FAILED,
                reason=c.REASON_INVALID_RESULT,
                message=error,
                now=finished,
                gen=gen,
            )
            new.attempts[idx] = new.attempts[idx].model_copy(
                update={"phase": Phase.FAILED, "reason": c.REASON_INVALID_RESULT, "message": error}
            )
        return _final_decision(o.task.status or TaskStatus(), new)
    new = _finish(
        status,
        phase=Phase.FAILED,
        reason=out.reason or c.REASON_POD_FAILED,
        message=out.message or "",
        now=finished,
        gen=gen,
    )
    decision = _final_decision(o.task.status or TaskStatus(), new)
    if out.stop_job:
        return Decision(status=decision.status, events=decision.events, delete_jobs=(job.name,))
    return decision


def decide(o: Observed) -> Decision:
    """The next status of the Task, and what to do to get there."""
    status = o.task.status or TaskStatus()
    status = status.model_copy(update={"observed_generation": o.generation})
    if is_final(status.phase):
        return Decision(status=status)
    current = max((a.number for a in status.attempts), default=0)
    found = max(o.jobs, default=0)
    if found > current:  # Job created, then the operator died before recording it: adopt it
        status = record_attempt(status, number=found, job=o.jobs[found].name, now=o.now, gen=o.generation)
        current = found
    if current == 0:
        return _start(o, status)
    job = o.jobs.get(current)
    if job is None:
        name = job_name(o.task.metadata.get("name", ""), current)
        msg = f"Job {name} of attempt {current} was deleted before it finished"
        attempts = [
            a.model_copy(
                update={
                    "phase": Phase.FAILED,
                    "reason": c.REASON_POD_LOST,
                    "message": msg,
                    "finish_time": o.now,
                }
            )
            if a.number == current
            else a
            for a in status.attempts
        ]
        new = _finish(
            status.model_copy(update={"attempts": attempts}),
            phase=Phase.FAILED,
            reason=c.REASON_POD_LOST,
            message=msg,
            now=o.now,
            gen=o.generation,
        )
        return _final_decision(status, new)
    return _progress(o, status, job)
