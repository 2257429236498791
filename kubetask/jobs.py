"""Resolve a Task against its template and build the Job manifest of one attempt (pure).

Each attempt is its own Job named deterministically `<task>-<attempt>`, so an operator that
restarts can never create the same attempt twice: the second create collides on the name.
Params reach the container as a file (a downward-API projection of a pod annotation, so size is
bounded by the 256 KiB annotation limit, not by the 128 KiB limit of one environment string) and,
when small, also as the environment variable KUBETASK_PARAMS.

Every pod is locked down unless its template relaxes a part (`spec.relax`, `spec.capabilities`):
it runs as UID/GID 65532 (the distroless "nonroot" user: no image's files are its own, none of the
host's users), non-root enforced by the kubelet, with a read-only root filesystem and a writable
`/tmp` (an emptyDir; HOME points there, as tools write to $HOME, unless RunAsRoot), ALL capabilities dropped, no
privilege escalation, seccomp RuntimeDefault and no ServiceAccount token. That satisfies the
restricted Pod Security profile (`kubetask.pod_security`) on clusters without its admission (1.20).

Env values from Secrets stay references (`valueFrom.secretKeyRef`, from the template's `env` or the
Task's): the kubelet resolves them, and no value ever passes through the operator. The operator
names those variables to the executor in KUBETASK_SECRET_ENV, which masks their values in what it
leaves (`kubetask.executor.redaction`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from kubetask.executor.frames import RESULT_MAX_ENV
from kubetask.executor.redaction import SECRET_ENV, encode_names
from kubetask.labels import (
    ANNOTATION_PARAMS,
    ANNOTATION_RESULT_SCHEMA,
    ANNOTATION_TASK,
    ANNOTATION_TIMEOUT,
    LABEL_ATTEMPT,
    LABEL_TASK,
    LABEL_TASK_UID,
    LABEL_TEMPLATE,
    MAX_LABEL_VALUE,
    label_value,
)
from kubetask.models import (
    API_VERSION,
    EnvVar,
    PodDNSConfig,
    Relaxation,
    ResolvedPolicy,
    ResourceRequirements,
    TaskSpec,
    TaskTemplateSpec,
)
from kubetask.policy import resolve_policy

PARAMS_DIR = "/etc/kubetask"
PARAMS_FILE = f"{PARAMS_DIR}/params.json"
ENV_PARAMS_MAX = 64 * 1024
CONTAINER = "main"
# on each attempt's pod (the Job controller copies the template's finalizers to its pods): the pod stays
# until the operator has kept its log in SQL (operator/logs.py), whoever deletes it and whenever
LOG_FINALIZER = "kubetask.io/log"
TASK_UID = 65532  # user and group of a locked-down task pod (not root, no file of the image's, no host user)
TMP_DIR = "/tmp"  # the one writable directory of a read-only root filesystem

JobManifest = dict[str, Any]


@dataclass(frozen=True)
class ResolvedRun:
    """What an attempt runs: the template's defaults with the Task's overrides applied."""

    template: str | None
    image: str
    image_pull_policy: str | None
    command: list[str] | None
    args: list[str] | None
    handler: str | None
    env: list[EnvVar]
    resources: ResourceRequirements | None
    service_account_name: str | None
    dns_config: PodDNSConfig | None
    relax: frozenset[Relaxation]
    capabilities: tuple[str, ...]
    param_schema: dict[str, Any] | None
    result_schema: dict[str, Any] | None
    timeout_seconds: int | None
    policy: ResolvedPolicy


def resolve_run(spec: TaskSpec, template: TaskTemplateSpec | None) -> ResolvedRun | None:
    """Merge template and Task; None when there is no image to run (invalid spec)."""
    t = template
    image = spec.image or (t.image if t else None)
    if not image:
        return None
    policy = resolve_policy(spec, template)
    return ResolvedRun(
        template=spec.template_ref.name if spec.template_ref else None,
        image=image,
        image_pull_policy=spec.image_pull_policy or (t.image_pull_policy if t else None),
        command=spec.command if spec.command is not None else (t.command if t else None),
        args=spec.args if spec.args is not None else (t.args if t else None),
        handler=spec.handler or (t.handler if t else None),
        env=[*((t.env or []) if t else []), *(spec.env or [])],
        resources=spec.resources or (t.resources if t else None),
        service_account_name=t.service_account_name if t else None,
        dns_config=t.dns_config if t else None,
        relax=frozenset(t.relax or ()) if t else frozenset(),
        capabilities=tuple(t.capabilities or ()) if t else (),
        param_schema=t.param_schema if t else None,
        result_schema=t.result_schema if t else None,
        timeout_seconds=policy.timeout_seconds,  # the Task's, else the template's: one pick, in resolve_policy
        policy=policy,
    )


def job_name(task: str, attempt: int) -> str:
    """`<task>-<attempt>`, shortened with a stable hash when it would exceed 63 characters."""
    name = f"{task}-{attempt}"
    if len(name) <= MAX_LABEL_VALUE:
        return name
    digest = hashlib.sha256(task.encode()).hexdigest()[:8]
    suffix = f"-{digest}-{attempt}"
    return task[: MAX_LABEL_VALUE - len(suffix)].rstrip("-.") + suffix


def _security(r: ResolvedRun) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod's and the container's securityContext: the lockdown less what the template relaxes."""
    pod: dict[str, Any] = {}
    if "RunAsRoot" not in r.relax:
        pod.update(runAsNonRoot=True, runAsUser=TASK_UID, runAsGroup=TASK_UID)
    pod["seccompProfile"] = {"type": "Unconfined" if "UnconfinedSeccomp" in r.relax else "RuntimeDefault"}
    caps: dict[str, Any] = {"drop": ["ALL"]}
    if r.capabilities:
        caps["add"] = list(r.capabilities)
    container: dict[str, Any] = {
        "allowPrivilegeEscalation": "PrivilegeEscalation" in r.relax,
        "readOnlyRootFilesystem": "WritableRootFilesystem" not in r.relax,
        "capabilities": caps,
    }
    return pod, container


def _env(
    r: ResolvedRun, *, task: str, task_uid: str, attempt: int, params_json: str, result_max_bytes: int
) -> list[dict[str, Any]]:
    # UID 65532 has no home in the image: HOME is the writable /tmp, first, so a template's own HOME
    # wins (of two entries of one name the kubelet keeps the last)
    env: list[dict[str, Any]] = [] if "RunAsRoot" in r.relax else [{"name": "HOME", "value": TMP_DIR}]
    env += [
        {"name": "KUBETASK_TASK", "value": task},
        {"name": "KUBETASK_TASK_UID", "value": task_uid},  # the same for every attempt: an idempotency key
        {"name": "KUBETASK_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "KUBETASK_ATTEMPT", "value": str(attempt)},
        {"name": "KUBETASK_PARAMS_FILE", "value": PARAMS_FILE},
    ]
    if r.handler:
        env.append({"name": "KUBETASK_HANDLER", "value": r.handler})
    if len(params_json) <= ENV_PARAMS_MAX:
        env.append({"name": "KUBETASK_PARAMS", "value": params_json})
    env += [e.to_wire() for e in r.env]
    if result_max_bytes:  # after the template's own: the operator's limit wins
        env.append({"name": RESULT_MAX_ENV, "value": str(result_max_bytes)})
    if names := secret_env_names(env):  # last too: a template cannot hide a Secret from the executor
        env.append({"name": SECRET_ENV, "value": encode_names(names)})
    return env


def secret_env_names(env: list[dict[str, Any]]) -> list[str]:
    """The env vars a container takes from Secrets: those whose last entry (the kubelet keeps the
    last of one name) has `valueFrom.secretKeyRef`, in the order they first appear."""
    last: dict[str, dict[str, Any]] = {}
    for e in env:
        last[e["name"]] = e
    return [n for n, e in last.items() if isinstance(e.get("valueFrom"), dict) and "secretKeyRef" in e["valueFrom"]]


def build_job(
    r: ResolvedRun,
    *,
    task: str,
    namespace: str,
    task_uid: str,
    attempt: int,
    params: Any,
    labels: dict[str, str] | None = None,
    keep_log: bool = False,
    result_max_bytes: int = 0,
) -> JobManifest:
    """The Job of attempt `attempt` of Task `task`, owned by the Task (garbage-collected with it).

    `keep_log`: its pod carries LOG_FINALIZER, so it stays until its log is kept. `result_max_bytes`:
    the largest result the operator reads from the pod's log (RESULT_MAX_ENV; 0: 4 KiB, the
    termination message's)."""
    params_json = json.dumps(params, separators=(",", ":"), sort_keys=True)
    pod_security, container_security = _security(r)
    ours = {
        LABEL_TASK: label_value(task),
        LABEL_TASK_UID: task_uid,
        LABEL_ATTEMPT: str(attempt),
    }
    if r.template:
        ours[LABEL_TEMPLATE] = label_value(r.template)
    all_labels = {**(labels or {}), **ours}
    annotations = {ANNOTATION_TASK: task}
    if r.result_schema is not None:
        annotations[ANNOTATION_RESULT_SCHEMA] = json.dumps(r.result_schema, separators=(",", ":"))
    if r.timeout_seconds:
        annotations[ANNOTATION_TIMEOUT] = str(r.timeout_seconds)
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": r.image,
        "env": _env(
            r, task=task, task_uid=task_uid, attempt=attempt, params_json=params_json, result_max_bytes=result_max_bytes
        ),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "kubetask", "mountPath": PARAMS_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": TMP_DIR},
        ],
        "securityContext": container_security,
    }
    if r.image_pull_policy:
        container["imagePullPolicy"] = r.image_pull_policy
    if r.command is not None:
        container["command"] = r.command
    if r.args is not None:
        container["args"] = r.args
    if r.resources:
        container["resources"] = r.resources.to_wire()
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": "ServiceAccountToken" in r.relax,
        "securityContext": pod_security,
        "containers": [container],
        "volumes": [
            {
                "name": "kubetask",
                "downwardAPI": {
                    "items": [
                        {
                            "path": "params.json",
                            "fieldRef": {"fieldPath": f"metadata.annotations['{ANNOTATION_PARAMS}']"},
                        }
                    ]
                },
            },
            {"name": "tmp", "emptyDir": {}},
        ],
    }
    if r.service_account_name:
        pod_spec["serviceAccountName"] = r.service_account_name
    if r.dns_config is not None:
        pod_spec["dnsConfig"] = r.dns_config.to_wire()
        if r.dns_config.nameservers:
            pod_spec["dnsPolicy"] = "None"
    pod_meta: dict[str, Any] = {"labels": all_labels, "annotations": {**annotations, ANNOTATION_PARAMS: params_json}}
    if keep_log:
        pod_meta["finalizers"] = [LOG_FINALIZER]
    job_spec: dict[str, Any] = {"backoffLimit": 0, "template": {"metadata": pod_meta, "spec": pod_spec}}
    if r.timeout_seconds:
        job_spec["activeDeadlineSeconds"] = r.timeout_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(task, attempt),
            "namespace": namespace,
            "labels": all_labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "Task",
                    "name": task,
                    "uid": task_uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": job_spec,
    }
