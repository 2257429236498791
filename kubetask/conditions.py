"""Condition types, reasons (each with a fixed meaning) and the pure condition setter.

Reasons are CamelCase constants so that users, tests and the SQL mirror match on them exactly.
"""

from __future__ import annotations

from datetime import datetime

from kubetask.models import Condition, ConditionStatus

# Condition types
ACCEPTED = "Accepted"  # template resolved, params valid, first Job created (Unknown while Scheduled)
RUNNING = "Running"  # an attempt's container is running
SUCCEEDED = "Succeeded"  # final: the task succeeded
FAILED = "Failed"  # final: the task failed (reason says why)
RETRYING = "Retrying"  # an attempt failed and another is scheduled
DEAD_LETTERED = "DeadLettered"  # final: retryable failures exhausted the attempts
CANCELLED = "Cancelled"  # final: stopped on request

# Kubernetes Event types (the only two the apiserver's Event API knows); also the type of a history event
EVENT_NORMAL = "Normal"
EVENT_WARNING = "Warning"

# Reasons
REASON_TASK_CREATED = "Created"  # the Task CR exists (the first event of its history)
REASON_SCHEDULED = "Scheduled"  # waits for spec.runAt; no Job before then
REASON_ACCEPTED = "Accepted"  # params valid, Job created
REASON_JOB_CREATED = "JobCreated"
REASON_STARTED = "Started"  # container running
REASON_COMPLETED = "Completed"  # exit 0 and a valid result
REASON_INVALID_SPEC = "InvalidSpec"  # neither templateRef nor image
REASON_TEMPLATE_NOT_FOUND = "TemplateNotFound"  # waits: recovers when the template appears
REASON_INVALID_PARAMS = "InvalidParams"  # params break the template's paramSchema
REASON_INVALID_RESULT = "InvalidResult"  # result is not JSON or breaks the resultSchema
REASON_RESULT_TOO_LARGE = "ResultTooLarge"  # over KUBETASK_OPERATOR_RESULT_MAX_BYTES: never retried
REASON_RESULT_LOST = "ResultLost"  # a large result's frames missing/corrupt, or never read from the log
REASON_NON_ZERO_EXIT = "NonZeroExit"
REASON_PERMANENT_FAILURE = "PermanentFailure"  # the handler said no retry can help (PermanentError): never retried
REASON_PARAMS_REJECTED = "ParamsRejected"  # params passed paramSchema but not the handler's model: never retried
REASON_OOM_KILLED = "OOMKilled"
REASON_DEADLINE_EXCEEDED = "DeadlineExceeded"  # an attempt ran past timeoutSeconds, or the task past deadlineSeconds
REASON_IMAGE_PULL_FAILED = "ImagePullFailed"  # image missing or not pullable
REASON_CONTAINER_CREATE_FAILED = "ContainerCreateFailed"  # e.g. a missing Secret in env
REASON_EVICTED = "Evicted"
REASON_POD_FAILED = "PodFailed"  # the pod failed without a container exit (rare)
REASON_POD_LOST = "PodLost"  # the attempt's Job or pod vanished under us
REASON_UNSCHEDULABLE = "Unschedulable"  # pod could not be scheduled within pendingTimeoutSeconds
REASON_PENDING_TIMEOUT = "PendingTimeout"  # pod not running within pendingTimeoutSeconds
REASON_CANCELLED = "Cancelled"  # spec.cancel was set
REASON_RETRYING = "Retrying"
REASON_ATTEMPTS_EXHAUSTED = "AttemptsExhausted"  # dead-lettered


def set_condition(
    conditions: list[Condition],
    *,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None,
) -> list[Condition]:
    """A new list with `type_` set; `lastTransitionTime` changes only when `status` flips."""
    old = next((c for c in conditions if c.type == type_), None)
    moved = old is None or old.status != status
    new = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=now if moved or old is None else old.last_transition_time,
        observed_generation=generation,
    )
    if old is not None and old == new:
        return conditions
    return [new if c.type == type_ else c for c in conditions] if old else [*conditions, new]


def get_condition(conditions: list[Condition], type_: str) -> Condition | None:
    """The condition of `type_`, if set."""
    return next((c for c in conditions if c.type == type_), None)
