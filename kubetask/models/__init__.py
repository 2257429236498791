"""API types of kubetask (`kubetask.io/v1alpha1`): pydantic models that become the CRDs.

The models carry fields, defaults, constraints and descriptions only; behaviour lives in the domain
modules that import them (`kubetask.reconcile`, `kubetask.jobs`, `kubetask.schema_check`,
`kubetask.schedules`, whose parser the TaskSchedule's validators call).
"""

from kubetask.models._common import (
    API_VERSION,
    FINAL_PHASES,
    GROUP,
    VERSION,
    Condition,
    ConditionStatus,
    EnvVar,
    KubeModel,
    Phase,
    ResourceRequirements,
)
from kubetask.models._policy import DEFAULT_PENDING_TIMEOUT, DEFAULT_TTL_AFTER_FINISHED, ResolvedPolicy, RetryPolicy
from kubetask.models._schedule import (
    ScheduledTask,
    ScheduleRun,
    TaskSchedule,
    TaskScheduleSpec,
    TaskScheduleStatus,
)
from kubetask.models._task import (
    Attempt,
    HandlerReport,
    LargeResult,
    RedriveRef,
    Task,
    TaskSpec,
    TaskStatus,
    TemplateRef,
)
from kubetask.models._template import DNSOption, PodDNSConfig, Relaxation, TaskTemplate, TaskTemplateSpec

__all__ = [
    "API_VERSION",
    "DEFAULT_PENDING_TIMEOUT",
    "DEFAULT_TTL_AFTER_FINISHED",
    "FINAL_PHASES",
    "GROUP",
    "VERSION",
    "Attempt",
    "HandlerReport",
    "LargeResult",
    "DNSOption",
    "PodDNSConfig",
    "Condition",
    "ConditionStatus",
    "EnvVar",
    "KubeModel",
    "Phase",
    "RedriveRef",
    "Relaxation",
    "ResolvedPolicy",
    "ResourceRequirements",
    "RetryPolicy",
    "ScheduleRun",
    "ScheduledTask",
    "Task",
    "TaskSpec",
    "TaskStatus",
    "TaskSchedule",
    "TaskScheduleSpec",
    "TaskScheduleStatus",
    "TaskTemplate",
    "TaskTemplateSpec",
    "TemplateRef",
]
