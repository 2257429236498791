"""Shared building blocks of the kubetask API types (camelCase on the wire, snake_case in Python)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kubetask.models._numbers import Quantity

GROUP = "kubetask.io"
VERSION = "v1alpha1"
API_VERSION: Final = "kubetask.io/v1alpha1"

# Marks a field whose content is free-form JSON; the CRD generator turns it into
# `x-kubernetes-preserve-unknown-fields: true` so the apiserver does not prune it.
FREE_FORM: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}
# Kubernetes quantities ("500m", 1, "64Mi") are strings or integers.
INT_OR_STRING: dict[str, Any] = {"x-kubernetes-int-or-string": True}


class KubeModel(BaseModel):
    """Base of all API types: camelCase aliases, unknown fields ignored (Kubernetes adds its own)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_enum_values=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON form Kubernetes stores: camelCase keys, no unset/None fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Phase(enum.StrEnum):
    """Lifecycle phase of a Task; Succeeded, Failed, Cancelled and DeadLettered are final."""

    SCHEDULED = "Scheduled"  # waits for spec.runAt: no Job before then
    PENDING = "Pending"
    RUNNING = "Running"
    RETRYING = "Retrying"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    DEAD_LETTERED = "DeadLettered"


# The one home of "final": absorbing phases, after which nothing about a Task changes but its TTL.
FINAL_PHASES: Final = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELLED, Phase.DEAD_LETTERED})


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(KubeModel):
    """A Kubernetes-style condition; `lastTransitionTime` moves only when `status` flips."""

    type: str = Field(description="Condition type, e.g. Accepted, Running, Succeeded, Failed.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason for the last transition.")
    message: str = Field(default="", description="Human-readable details.")
    last_transition_time: datetime | None = Field(default=None, description="When status last changed.")
    observed_generation: int | None = Field(default=None, description="Task generation this reflects.")


# An env var name as a Pod takes it (Kubernetes' IsEnvVarName): letters, digits, '_', '-', '.', not
# starting with a digit, neither '.' nor starting with '..'.
ENV_NAME = r"^([-_a-zA-Z][-._a-zA-Z0-9]*|\.[-_a-zA-Z0-9][-._a-zA-Z0-9]*)$"


class EnvVar(KubeModel):
    """An environment variable for the task container (`valueFrom` as in a Pod spec)."""

    name: str = Field(
        min_length=1,
        pattern=ENV_NAME,
        description="Variable name: letters, digits, _, - and ., not starting with a digit or '..'.",
    )
    value: str | None = Field(default=None, description="Literal value.")
    value_from: dict[str, Any] | None = Field(
        default=None, description="Source as in a Pod's env[].valueFrom.", json_schema_extra=FREE_FORM
    )


class ResourceRequirements(KubeModel):
    """CPU/memory requests and limits, as in a Pod's container resources."""

    limits: dict[str, Quantity] | None = Field(default=None, description="Maximum resources, e.g. memory: 64Mi.")
    requests: dict[str, Quantity] | None = Field(default=None, description="Requested resources.")
