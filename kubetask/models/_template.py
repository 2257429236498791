"""`TaskTemplate`: a type of task — what runs, and the JSON Schemas of its params and result."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from kubetask.models._common import API_VERSION, FREE_FORM, EnvVar, KubeModel, ResourceRequirements
from kubetask.models._numbers import INT32_MAX, OptionalInt
from kubetask.models._policy import DEFAULT_PENDING_TIMEOUT, DEFAULT_TTL_AFTER_FINISHED, RetryPolicy

PullPolicy = Literal["Always", "IfNotPresent", "Never"]

# Kubernetes' own rules for what a template puts into a Pod, so that a template the apiserver
# accepts also makes Jobs it accepts (the CRD and the API's OpenAPI document carry them alike).
# an image reference has no whitespace (the kubelet refuses one with it as InvalidImageName, and
# Kubernetes refuses leading or trailing whitespace in a Pod): registry, path, tag and digest alone
IMAGE = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"
# a ServiceAccount name, as the Pod's serviceAccountName: a DNS-1123 subdomain of up to 253
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
MAX_DNS_SUBDOMAIN = 253
# a Linux capability as a container's securityContext names it, without the CAP_ prefix
Capability = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]

# What a template may relax of the lockdown every task pod gets (kubetask.jobs: non-root UID 65532,
# read-only root filesystem with a writable /tmp, ALL capabilities dropped, no privilege
# escalation, seccomp RuntimeDefault, no ServiceAccount token). Each name undoes one of those.
Relaxation = Literal[
    "RunAsRoot",  # the image's own user, root included (no runAsNonRoot, runAsUser, runAsGroup)
    "WritableRootFilesystem",  # the container may write anywhere its user may, not only /tmp
    "PrivilegeEscalation",  # setuid binaries (sudo, ping) may gain privileges
    "UnconfinedSeccomp",  # no seccomp filter (the runtime's default filter refuses some syscalls)
    "ServiceAccountToken",  # the pod's ServiceAccount token is mounted (for tasks that call the apiserver)
]


class DNSOption(KubeModel):
    """One resolver option of a pod (resolv.conf `options`), e.g. ndots:2."""

    model_config = ConfigDict(strict=True)

    name: str = Field(min_length=1, description="Option name, e.g. ndots.")
    value: str | None = Field(default=None, description="Option value, e.g. 2.")


class PodDNSConfig(KubeModel):
    """The pod's resolver, as a Pod's `dnsConfig`; with nameservers the pod uses only these (dnsPolicy None)."""

    model_config = ConfigDict(strict=True)

    nameservers: list[str] | None = Field(
        default=None,
        max_length=3,  # the Pod API's limit
        description="Resolver IP addresses (at most 3); given, the pod uses no other resolver (dnsPolicy None).",
    )
    searches: list[str] | None = Field(default=None, max_length=6, description="DNS search domains.")
    options: list[DNSOption] | None = Field(default=None, description="Resolver options, e.g. ndots.")


class TaskTemplateSpec(KubeModel):
    """What a task of this type runs, how its input and output look, and its defaults."""

    # a value of another JSON type is refused, not coerced ("1" is no integer, nor is 1.0 or true),
    # as the apiserver refuses it
    model_config = ConfigDict(strict=True)

    description: str | None = Field(default=None, description="What tasks of this type do.")
    image: str = Field(min_length=1, pattern=IMAGE, description="Container image that runs the task (no whitespace).")
    image_pull_policy: PullPolicy | None = Field(default=None, description="Pull policy of the container.")
    command: list[str] | None = Field(default=None, description="Entrypoint; default: the image's.")
    args: list[str] | None = Field(default=None, description="Arguments to the entrypoint.")
    handler: str | None = Field(
        default=None, description="Executor handler to run (kubetask-executor images), e.g. echo."
    )
    env: list[EnvVar] | None = Field(default=None, description="Extra environment variables.")
    resources: ResourceRequirements | None = Field(default=None, description="Container resources.")
    service_account_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_DNS_SUBDOMAIN,
        pattern=DNS_SUBDOMAIN,
        description="ServiceAccount of the pod; omit it for the namespace's default.",
    )
    dns_config: PodDNSConfig | None = Field(
        default=None, description="DNS settings of the pod (its dnsConfig; dnsPolicy None when nameservers are set)."
    )
    relax: list[Relaxation] | None = Field(
        default=None,
        description="Parts of the task pods' lockdown this template lifts (default none: non-root UID 65532, "
        "read-only root filesystem with a writable /tmp, ALL capabilities dropped, no privilege escalation, "
        "seccomp RuntimeDefault, no ServiceAccount token): RunAsRoot, WritableRootFilesystem, "
        "PrivilegeEscalation, UnconfinedSeccomp, ServiceAccountToken.",
    )
    capabilities: list[Capability] | None = Field(
        default=None,
        description="Linux capabilities added back after dropping ALL, without CAP_, e.g. NET_BIND_SERVICE "
        "(the only one the restricted Pod Security profile allows).",
    )
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
    timeout_seconds: OptionalInt = Field(
        default=None, ge=1, le=INT32_MAX, description="Default limit on one attempt's run time, in seconds."
    )
    retry: RetryPolicy | None = Field(default=None, description="Default retry policy of its tasks.")
    pending_timeout_seconds: OptionalInt = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description=f"Fail an attempt whose pod is not running after this long (default {DEFAULT_PENDING_TIMEOUT}).",
    )
    deadline_seconds: OptionalInt = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description="Limit on a task's whole run, all attempts and delays included.",
    )
    ttl_seconds_after_finished: OptionalInt = Field(
        default=None,
        ge=0,
        le=INT32_MAX,
        description=f"Delete finished Tasks after this long, once in history (default {DEFAULT_TTL_AFTER_FINISHED}).",
    )


class TaskTemplate(KubeModel):
    """A TaskTemplate custom resource."""

    api_version: Literal["kubetask.io/v1alpha1"] = Field(default=API_VERSION)
    kind: Literal["TaskTemplate"] = Field(default="TaskTemplate")
    metadata: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"type": "object"})
    spec: TaskTemplateSpec
