"""`TaskSchedule`: Tasks created from a template on a cron schedule, with the status of its runs.

The cron expression and the time zone are checked by `kubetask.schedules` (the same parser the
controller uses), so a schedule that would never fire or names an unknown zone fails here, naming
its field. The policy defaults are the ones `kubetask.schedules` applies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from kubetask.models._common import API_VERSION, FREE_FORM, Condition, KubeModel
from kubetask.models._policy import RetryPolicy
from kubetask.models._task import TaskSpec, TemplateRef
from kubetask.schedules import (
    DEFAULT_CONCURRENCY_POLICY,
    DEFAULT_MAX_MISSED_RUNS,
    DEFAULT_MISSED_RUN_POLICY,
    DEFAULT_TIME_ZONE,
    ConcurrencyPolicy,
    MissedRunPolicy,
    ScheduleError,
    parse_schedule,
    parse_time_zone,
)

DEFAULT_SUCCESSFUL_HISTORY_LIMIT = 3  # as a CronJob keeps
DEFAULT_FAILED_HISTORY_LIMIT = 1
MAX_JITTER_SECONDS = 86400
NEXT_RUN_TIMES = 5  # instants shown in status.nextRunTimes

_TASK = TaskSpec.model_fields  # the run's overrides mean what they mean on a Task: one home


def _kept(phase: str, default: int) -> str:
    return f"{phase} run Tasks kept; older ones are deleted once in history (default {default})."


class ScheduledTask(KubeModel):
    """What each run creates: a Task of a template, with its params and the Task's overrides."""

    template_ref: TemplateRef = Field(description="The TaskTemplate each run uses.")
    params: Any = Field(
        default=None,
        description="Input of each run, checked against the template's paramSchema.",
        json_schema_extra=FREE_FORM,
    )
    retry: RetryPolicy | None = Field(default=None, description=_TASK["retry"].description)
    timeout_seconds: int | None = Field(default=None, ge=1, description=_TASK["timeout_seconds"].description)
    pending_timeout_seconds: int | None = Field(
        default=None, ge=1, description=_TASK["pending_timeout_seconds"].description
    )
    deadline_seconds: int | None = Field(default=None, ge=1, description=_TASK["deadline_seconds"].description)
    ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description=_TASK["ttl_seconds_after_finished"].description
    )
    labels: dict[str, str] | None = Field(default=None, description="Labels added to each run Task.")
    annotations: dict[str, str] | None = Field(default=None, description="Annotations added to each run Task.")


class TaskScheduleSpec(KubeModel):
    """When to create a Task, which one, and what to do with overlapping, missed and old runs."""

    schedule: str = Field(
        min_length=1,
        description=(
            "Cron: 5 fields, 6 with seconds first, or @hourly/@daily/@weekly/@monthly/@yearly;"
            " H picks a value hashed from namespace/name."
        ),
    )
    time_zone: str | None = Field(
        default=None, description=f"IANA time zone the schedule is read in (default {DEFAULT_TIME_ZONE})."
    )
    task: ScheduledTask = Field(description="The Task each run creates.")
    concurrency_policy: ConcurrencyPolicy = Field(
        default=DEFAULT_CONCURRENCY_POLICY,
        description=(
            "When a run is still active: Allow (overlap), Forbid (skip, counted), Replace (cancel it, then"
            f" start), Queue (one waits) (default {DEFAULT_CONCURRENCY_POLICY})."
        ),
    )
    starting_deadline_seconds: int | None = Field(
        default=None, ge=1, description="A run not started this long after its time is missed (counted)."
    )
    missed_run_policy: MissedRunPolicy = Field(
        default=DEFAULT_MISSED_RUN_POLICY,
        description=(
            "Runs that fell due while no operator was up: Skip, RunLatest, RunAll"
            f" (default {DEFAULT_MISSED_RUN_POLICY})."
        ),
    )
    max_missed_runs: int = Field(
        default=DEFAULT_MAX_MISSED_RUNS,
        ge=0,
        le=100,
        description=f"RunAll starts at most this many missed runs, the latest (default {DEFAULT_MAX_MISSED_RUNS}).",
    )
    suspend: bool = Field(default=False, description="True: start nothing; resuming runs nothing from the pause.")
    suspend_reason: str | None = Field(default=None, max_length=1024, description="Why the schedule is suspended.")
    jitter_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_JITTER_SECONDS,
        description="Delay each run by up to this long, fixed per schedule and time, never past the next run.",
    )
    successful_history_limit: int = Field(
        default=DEFAULT_SUCCESSFUL_HISTORY_LIMIT,
        ge=0,
        description=_kept("Succeeded", DEFAULT_SUCCESSFUL_HISTORY_LIMIT),
    )
    failed_history_limit: int = Field(
        default=DEFAULT_FAILED_HISTORY_LIMIT,
        ge=0,
        description=_kept("Failed", DEFAULT_FAILED_HISTORY_LIMIT),
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:  # `H` is valid whatever it hashes to; the controller hashes with namespace/name
            parse_schedule(value, hash_key="validation")
        except ScheduleError as e:
            raise ValueError(e.message) from e
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        try:
            parse_time_zone(value)
        except ScheduleError as e:
            raise ValueError(e.message) from e
        return value


class ScheduleRun(KubeModel):
    """A run Task of the schedule."""

    name: str = Field(description="Name of the run Task.")
    scheduled_time: datetime = Field(description="The nominal time it runs for.")


class TaskScheduleStatus(KubeModel):
    """Observed state of a TaskSchedule, written only by the operator."""

    last_schedule_time: datetime | None = Field(
        default=None,
        description="Latest nominal time decided (run, queued, skipped or missed): no time at or before it runs again.",
    )
    last_successful_time: datetime | None = Field(default=None, description="When a run last succeeded.")
    active: list[ScheduleRun] = Field(default_factory=list, description="Run Tasks not yet finished.")
    active_count: int = Field(default=0, description="Number of active runs (the Active column).")
    queued: datetime | None = Field(default=None, description="The nominal time waiting for the active run (Queue).")
    next_run_times: list[datetime] = Field(
        default_factory=list, description=f"The next {NEXT_RUN_TIMES} nominal times."
    )
    missed_runs: int = Field(
        default=0, description="Runs missed: past the starting deadline or not run after an outage."
    )
    last_missed_time: datetime | None = Field(default=None, description="Nominal time of the last missed run.")
    skipped_runs: int = Field(default=0, description="Runs skipped by the concurrency policy or a suspension.")
    last_skipped_time: datetime | None = Field(default=None, description="Nominal time of the last skipped run.")
    scheduling_since: datetime | None = Field(
        default=None,
        description=(
            "Nothing at or before this time runs: when the schedule was created, or when the operator saw it"
            " resumed, become valid, or its schedule or time zone change."
        ),
    )
    observed_schedule: str | None = Field(
        default=None, description="The schedule (macros expanded) and time zone schedulingSince belongs to."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready: True while runs are created; False with reason Suspended, InvalidSpec or TemplateNotFound.",
    )
    observed_generation: int | None = Field(default=None, description="Last generation acted upon.")


class TaskSchedule(KubeModel):
    """A TaskSchedule custom resource."""

    api_version: Literal["kubetask.io/v1alpha1"] = Field(default=API_VERSION)
    kind: Literal["TaskSchedule"] = Field(default="TaskSchedule")
    metadata: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"type": "object"})
    spec: TaskScheduleSpec
    status: TaskScheduleStatus | None = None
