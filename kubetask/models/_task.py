"""`Task`: one run of a template (or of an inline image), with its status."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from kubetask.models._common import (
    API_VERSION,
    FREE_FORM,
    Condition,
    EnvVar,
    KubeModel,
    Phase,
    ResourceRequirements,
)
from kubetask.models._policy import ResolvedPolicy, RetryPolicy
from kubetask.models._template import PullPolicy


class TemplateRef(KubeModel):
    """Reference to a TaskTemplate in the Task's namespace."""

    name: str = Field(min_length=1, description="Name of the TaskTemplate.")


class RedriveRef(KubeModel):
    """The original of a redriven task."""

    name: str = Field(description="Name of the dead-lettered Task.")
    uid: str = Field(description="UID of the dead-lettered Task.")


class TaskSpec(KubeModel):
    """What to run: a template and its params, or an inline image and command."""

    template_ref: TemplateRef | None = Field(default=None, description="The TaskTemplate to run.")
    params: Any = Field(
        default=None,
        description="Input, checked against the template's paramSchema.",
        json_schema_extra=FREE_FORM,
    )
    image: str | None = Field(default=None, description="Inline image (overrides the template's).")
    image_pull_policy: PullPolicy | None = Field(default=None, description="Pull policy of the container.")
    command: list[str] | None = Field(default=None, description="Inline command (overrides the template's).")
    args: list[str] | None = Field(default=None, description="Inline args (override the template's).")
    handler: str | None = Field(default=None, description="Executor handler (overrides the template's).")
    env: list[EnvVar] | None = Field(default=None, description="Extra environment variables.")
    resources: ResourceRequirements | None = Field(default=None, description="Container resources.")
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Limit on one attempt's run time, in seconds (overrides the template).",
    )
    retry: RetryPolicy | None = Field(default=None, description="Retry policy (overrides the template's).")
    pending_timeout_seconds: int | None = Field(
        default=None, ge=1, description="Fail an attempt whose pod is not running after this long."
    )
    deadline_seconds: int | None = Field(
        default=None, ge=1, description="Limit on the whole run, all attempts and delays included."
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description="Delete the Task this long after it finished (once in history)."
    )
    run_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "Start the first attempt at this time (RFC 3339 with an offset, e.g. 2026-03-01T09:00:00Z), not"
            " before: the task is Scheduled until then; a time in the past starts it at once."
            " deadlineSeconds counts from it when it is later than the creation."
        ),
    )
    cancel: bool = Field(default=False, description="Set true to stop the task: its running attempt is deleted.")
    redrive_of: RedriveRef | None = Field(default=None, description="The dead-lettered Task this one re-runs.")
    idempotency_key: str | None = Field(
        default=None,
        max_length=256,
        description="Client-chosen key; the API returns the same task on a repeat.",
    )


class HandlerReport(KubeModel):
    """What the attempt's executor handler reported (its termination message's envelope)."""

    name: str = Field(description="The handler that ran, e.g. http.")
    version: str | None = Field(default=None, description="The handler's version, if it declares one.")
    time: datetime | None = Field(default=None, description="When the handler returned or raised (the pod's clock).")
    failure_kind: str | None = Field(
        default=None, description="What failed, as the handler named it (e.g. HTTPStatus, Timeout); unset on success."
    )
    retryable: bool | None = Field(
        default=None,
        description="Whether the handler said another attempt may help (false: PermanentFailure, never retried).",
    )
    retry_after_seconds: float | None = Field(
        default=None,
        ge=0,
        description="No attempt before this long after `time`, the handler said (capped by maxDelaySeconds).",
    )


class LargeResult(KubeModel):
    """A result too large for the CR (over 4 KiB): kept in SQL, served whole by the API's `/result`."""

    attempt: int = Field(ge=1, description="The attempt that returned it.")
    size: int = Field(ge=0, description="Bytes of the result's JSON text.")
    sha256: str = Field(description="SHA-256 (hex) of the result's JSON text.")
    preview: str = Field(default="", description="The JSON text's first bytes (at most 1 KiB).")


class Attempt(KubeModel):
    """One attempt: one Job and its pod."""

    number: int = Field(ge=1, description="1 for the first attempt.")
    job_name: str = Field(description="Name of the attempt's Job.")
    pod_name: str | None = Field(default=None, description="Name of the attempt's pod.")
    phase: Phase = Field(default=Phase.PENDING, description="Phase of this attempt.")
    start_time: datetime | None = Field(default=None, description="When the container started.")
    finish_time: datetime | None = Field(default=None, description="When the attempt ended.")
    exit_code: int | None = Field(default=None, description="Exit code of the container.")
    reason: str | None = Field(default=None, description="Why the attempt ended, e.g. OOMKilled.")
    message: str | None = Field(default=None, description="Details of the outcome.")
    handler: HandlerReport | None = Field(default=None, description="What the executor's handler reported.")
    large_result: LargeResult | None = Field(
        default=None, description="The large result this attempt reported, framed in its log (checked or not yet)."
    )


class TaskStatus(KubeModel):
    """Observed state of a Task, written only by the operator."""

    phase: Phase = Field(default=Phase.PENDING, description="Lifecycle phase.")
    reason: str | None = Field(default=None, description="Reason of the current phase.")
    message: str | None = Field(default=None, description="Details of the current phase.")
    conditions: list[Condition] = Field(default_factory=list, description="Current conditions.")
    observed_generation: int | None = Field(default=None, description="Last generation acted upon.")
    attempts: list[Attempt] = Field(default_factory=list, description="Attempts, oldest first.")
    attempt_count: int = Field(default=0, description="Number of attempts started.")
    result: Any = Field(default=None, description="The task's JSON result.", json_schema_extra=FREE_FORM)
    large_result: LargeResult | None = Field(
        default=None,
        description="A result over 4 KiB, checked and kept in SQL: its size, sha256 and preview (result is unset).",
    )
    start_time: datetime | None = Field(default=None, description="When the first attempt started running.")
    completion_time: datetime | None = Field(default=None, description="When the task reached a final phase.")
    duration: str | None = Field(default=None, description="Run time of a finished task, e.g. 1m5s.")
    next_attempt_time: datetime | None = Field(default=None, description="When the next attempt starts (Retrying).")
    policy: ResolvedPolicy | None = Field(default=None, description="Retry and time policies in force.")


class Task(KubeModel):
    """A Task custom resource."""

    api_version: Literal["kubetask.io/v1alpha1"] = Field(default=API_VERSION)
    kind: Literal["Task"] = Field(default="Task")
    metadata: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"type": "object"})
    spec: TaskSpec
    status: TaskStatus | None = None
