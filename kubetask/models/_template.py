"""`TaskTemplate`: a type of task — what runs, and the JSON Schemas of its params and result."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kubetask.models._common import API_VERSION, FREE_FORM, EnvVar, KubeModel, ResourceRequirements
from kubetask.models._policy import DEFAULT_PENDING_TIMEOUT, DEFAULT_TTL_AFTER_FINISHED, RetryPolicy

PullPolicy = Literal["Always", "IfNotPresent", "Never"]


class TaskTemplateSpec(KubeModel):
    """What a task of this type runs, how its input and output look, and its defaults."""

    description: str | None = Field(default=None, description="What tasks of this type do.")
    image: str = Field(min_length=1, description="Container image that runs the task.")
    image_pull_policy: PullPolicy | None = Field(default=None, description="Pull policy of the container.")
    command: list[str] | None = Field(default=None, description="Entrypoint; default: the image's.")
    args: list[str] | None = Field(default=None, description="Arguments to the entrypoint.")
    handler: str | None = Field(
        default=None, description="Executor handler to run (kubetask-executor images), e.g. echo."
    )
    env: list[EnvVar] | None = Field(default=None, description="Extra environment variables.")
    resources: ResourceRequirements | None = Field(default=None, description="Container resources.")
    service_account_name: str | None = Field(default=None, description="ServiceAccount of the pod.")
    param_schema: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema (Draft 2020-12) that a task's params must satisfy.",
        json_schema_extra=FREE_FORM,
    )
    result_schema: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema (Draft 2020-12) that a task's result must satisfy.",
        json_schema_extra=FREE_FORM,
    )
    timeout_seconds: int | None = Field(
        default=None, ge=1, description="Default limit on one attempt's run time, in seconds."
    )
    retry: RetryPolicy | None = Field(default=None, description="Default retry policy of its tasks.")
    pending_timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        description=f"Fail an attempt whose pod is not running after this long (default {DEFAULT_PENDING_TIMEOUT}).",
    )
    deadline_seconds: int | None = Field(
        default=None, ge=1, description="Limit on a task's whole run, all attempts and delays included."
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        description=f"Delete finished Tasks after this long, once in history (default {DEFAULT_TTL_AFTER_FINISHED}).",
    )


class TaskTemplate(KubeModel):
    """A TaskTemplate custom resource."""

    api_version: Literal["kubetask.io/v1alpha1"] = Field(default=API_VERSION)
    kind: Literal["TaskTemplate"] = Field(default="TaskTemplate")
    metadata: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"type": "object"})
    spec: TaskTemplateSpec
