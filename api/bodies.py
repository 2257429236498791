"""Request and response bodies of the REST API (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from kubetask.models._numbers import INT32_MAX

from .validation import DNS_SUBDOMAIN, LABEL_KEY, LABEL_VALUE, MAX_GENERATE_NAME, MAX_NAME

# Declared in the schema, checked by the service (`validation.name_problems`, `label_problems`), so a
# request's every bad name and label is reported at once, each with a message saying how to fix it.
_NAME: JsonDict = {"pattern": DNS_SUBDOMAIN, "maxLength": MAX_NAME}
_GENERATE_NAME: JsonDict = {"pattern": rf"^({DNS_SUBDOMAIN[1:-1]}-*)?$", "maxLength": MAX_GENERATE_NAME}
_LABELS: JsonDict = {
    "propertyNames": {"pattern": LABEL_KEY},
    "additionalProperties": {"type": "string", "pattern": LABEL_VALUE},
}


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class TaskCreate(ApiModel):
    """A task to run: a template and its params."""

    template: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        json_schema_extra={"pattern": DNS_SUBDOMAIN},
        description="Name of the TaskTemplate in this namespace.",
    )
    params: Any = Field(default=None, description="Input, checked against the template's paramSchema.")
    name: str | None = Field(
        default=None, json_schema_extra=_NAME, description="Task name; default: generated from the template name."
    )
    generate_name: str | None = Field(
        default=None, json_schema_extra=_GENERATE_NAME, description="Name prefix; a random suffix is added."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, json_schema_extra=_LABELS, description="Labels of the Task (and its pods)."
    )
    timeout_seconds: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Limit on one attempt's run time (at most 2^31-1 s)."
    )
    run_at: datetime | None = Field(
        default=None,
        description="Start at this time (RFC 3339 with an offset), not before: the task is Scheduled until then"
        " (spec.runAt); a time in the past starts it at once.",
    )


class AttemptPublic(ApiModel):
    number: int
    job_name: str
    pod_name: str | None = None
    phase: str
    exit_code: int | None = None
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None


class EventPublic(ApiModel):
    timestamp: datetime
    type: str
    reason: str
    message: str


class TaskPublic(ApiModel):
    namespace: str
    name: str
    uid: str
    template: str | None = None
    phase: str
    reason: str | None = None
    message: str | None = None
    params: Any = None
    result: Any = None
    labels: dict[str, str] = Field(default_factory=dict)
    idempotency_key: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempt_count: int = 0
    duration_seconds: float | None = None
    live: bool = Field(description="True while the Task custom resource exists in the cluster.")


class ProgressPublic(ApiModel):
    """How far the running attempt's handler got, as it last said (`ctx.progress`)."""

    current: float = Field(description="Done so far, in the handler's own unit.")
    total: float | None = Field(default=None, description="Of this much; absent when the handler does not know.")
    message: str | None = Field(default=None, description="What the handler said it is doing.")
    time: datetime | None = Field(default=None, description="When it said so (the pod's clock).")
    attempt: int = Field(description="The attempt that said it.")


class TaskDetail(TaskPublic):
    attempts: list[AttemptPublic] = Field(default_factory=list)
    conditions: list[dict[str, Any]] = Field(default_factory=list)
    progress: ProgressPublic | None = Field(
        default=None,
        description="While an attempt runs: its handler's last `ctx.progress`, read from the pod's log "
        "(absent when it reported none, or the log cannot be read; absent once the attempt ended).",
    )


class TasksPublic(ApiModel):
    items: list[TaskPublic]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")


class TemplateBody(ApiModel):
    """A TaskTemplate: its name and spec (as in the CRD)."""

    name: str = Field(min_length=1, max_length=MAX_NAME, json_schema_extra={"pattern": DNS_SUBDOMAIN})
    spec: dict[str, Any] = Field(
        description="The TaskTemplate's spec as in its CRD (crds/kubetask.io_tasktemplates.yaml), checked against "
        "it and its JSON Schemas on write; every bad field is reported at once."
    )


class TemplatePublic(ApiModel):
    namespace: str
    name: str
    spec: dict[str, Any]
    created_at: datetime | None = None
    resource_version: str | None = None


class TemplatesPublic(ApiModel):
    items: list[TemplatePublic]


class FiguresPublic(ApiModel):
    total: int
    by_phase: dict[str, int]
    success_rate: float | None
    avg_duration_seconds: float | None
    p95_duration_seconds: float | None
    tasks_per_minute: float


class StatsPublic(ApiModel):
    window_start: datetime
    window_end: datetime
    overall: FiguresPublic
    per_template: dict[str, FiguresPublic]


class DeadLetterPublic(ApiModel):
    namespace: str
    name: str
    uid: str
    template: str | None
    reason: str | None
    message: str | None
    attempt_count: int
    dead_lettered_at: Any
    redrive_count: int
    last_redrive: str | None
    last_redrive_at: Any | None


class DeadLettersPublic(ApiModel):
    items: list[DeadLetterPublic]
    next_cursor: str | None = None


class AuditEventPublic(ApiModel):
    """One audited request: a mutating one (its status once answered; null if the API stopped
    before answering) or a refused one."""

    time: datetime
    user: str | None = Field(description="As the TokenReview named the caller; null without an identity.")
    groups: list[str]
    verb: str = Field(description="Of the operation's permission: cancel is `patch` on tasks.")
    resource: str
    namespace: str | None
    name: str | None
    operation: str = Field(description='As in the OpenAPI document: "POST /api/v1/namespaces/{ns}/tasks".')
    decision: str = Field(description="allowed, forbidden, unauthenticated, throttled or unavailable.")
    status: int | None
    request_id: str = Field(description="The request's X-Request-Id (the client's, or one the API made).")
    source: str | None = Field(description="The peer address as the API received it: behind a proxy, the proxy's.")


class AuditEventsPublic(ApiModel):
    items: list[AuditEventPublic]
    next_cursor: str | None = None


class RedriveItem(ApiModel):
    namespace: str
    name: str


class RedriveRequest(ApiModel):
    """Redrive these dead letters, or every not-yet-redriven one matching the filters."""

    items: list[RedriveItem] | None = None
    namespace: str | None = None
    template: str | None = None
    reason: str | None = None
    limit: int = Field(default=100, ge=1, le=1000, description="Redrive at most this many.")


class RedriveResult(ApiModel):
    namespace: str
    original: str
    task: str | None = None
    error: str | None = None
