"""The restricted Pod Security profile's rules, checked on a pod spec (pure).

Kubernetes 1.20 has no Pod Security admission (it came in 1.23), and its PodSecurityPolicy is
deprecated and off here, so nothing on the cluster refuses a pod that runs as root. kubetask's
tests therefore check the profile themselves on every pod spec they render: the Jobs the operator
makes (`kubetask.jobs`) and the chart's Deployments. The rules are those of the "restricted" level
of https://kubernetes.io/docs/concepts/security/pod-security-standards/ (which includes
"baseline"), as the `restricted` policy of k8s.io/pod-security-admission checks them, except the
Windows-only `hostProcess` rule. `lockdown_violations` adds what kubetask asks beyond the profile:
a read-only root filesystem and no ServiceAccount token.

Every violation names its field path (`spec.containers[0].securityContext.runAsNonRoot`), its
rule and what would satisfy it; all of them are reported at once.

`task_pod_violations` judges a task pod the operator made: the lockdown less what its template
relaxed (`spec.relax`, `spec.capabilities`), each relaxation mapped to the one rule it lets the pod
break (`RELAXED_RULES`). The integration suite runs it on every task pod of every test's namespace.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubetask.models import Relaxation

# restricted: only these volume types (no hostPath, no in-tree network storage)
ALLOWED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
# restricted: capabilities.add may hold only this one
ALLOWED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
# baseline: the "safe" sysctls of the kubelet
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
    }
)
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
# The rule each of a template's relaxations lets its task pods break (kubetask.jobs undoes one part of
# the lockdown per name). WritableRootFilesystem and ServiceAccountToken lift kubetask's own lockdown
# rules, none of restricted's. A capability other than NET_BIND_SERVICE in `spec.capabilities` lifts
# the `capabilities` rule for what is added only: dropping ALL is still required.
RELAXED_RULES: Mapping[Relaxation, str] = {
    "RunAsRoot": "run-as-non-root",
    "WritableRootFilesystem": "read-only-root-filesystem",
    "PrivilegeEscalation": "allow-privilege-escalation",
    "UnconfinedSeccomp": "seccomp",
    "ServiceAccountToken": "service-account-token",
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Violation:
    """One rule a pod spec breaks: where, which rule, and what would satisfy it."""

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} ({self.rule})"


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in _CONTAINER_LISTS:
        for i, c in enumerate(spec.get(key) or []):
            yield f"spec.{key}[{i}]", c


def _host_namespaces(spec: Mapping[str, Any]) -> Iterator[Violation]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            yield Violation(f"spec.{key}", "host-namespaces", f"{key} must be unset or false")


def _volumes(spec: Mapping[str, Any]) -> Iterator[Violation]:
    for i, v in enumerate(spec.get("volumes") or []):
        kinds = set(v) - {"name"}
        for kind in sorted(kinds - ALLOWED_VOLUMES):
            rule = "host-path-volumes" if kind == "hostPath" else "restricted-volume-types"
            yield Violation(
                f"spec.volumes[{i}].{kind}",
                rule,
                f"volume type {kind} is not allowed (only {', '.join(sorted(ALLOWED_VOLUMES))})",
            )


def _pod_level(spec: Mapping[str, Any]) -> Iterator[Violation]:
    sc = spec.get("securityContext") or {}
    if sc.get("runAsUser") == 0:
        yield Violation("spec.securityContext.runAsUser", "run-as-user", "runAsUser must not be 0 (root)")
    if sc.get("runAsNonRoot") is False:
        yield Violation("spec.securityContext.runAsNonRoot", "run-as-non-root", "runAsNonRoot must not be false")
    seccomp = (sc.get("seccompProfile") or {}).get("type")
    if seccomp is not None and seccomp not in SECCOMP_TYPES:
        yield Violation(
            "spec.securityContext.seccompProfile.type",
            "seccomp",
            "seccompProfile.type must be RuntimeDefault or Localhost",
        )
    yield from _selinux("spec.securityContext", sc)
    for i, s in enumerate(sc.get("sysctls") or []):
        if s.get("name") not in SAFE_SYSCTLS:
            yield Violation(
                f"spec.securityContext.sysctls[{i}].name", "sysctls", f"sysctl {s.get('name')} is not a safe sysctl"
            )


def _selinux(path: str, sc: Mapping[str, Any]) -> Iterator[Violation]:
    opts = sc.get("seLinuxOptions") or {}
    if opts.get("type", "") not in SELINUX_TYPES:
        yield Violation(f"{path}.seLinuxOptions.type", "selinux", f"SELinux type {opts['type']} is not allowed")
    for key in ("user", "role"):
        if opts.get(key):
            yield Violation(f"{path}.seLinuxOptions.{key}", "selinux", f"SELinux {key} must be unset")


def _privileges(p: str, sc: Mapping[str, Any]) -> Iterator[Violation]:
    if sc.get("privileged"):
        yield Violation(f"{p}.privileged", "privileged", "privileged must be unset or false")
    if sc.get("allowPrivilegeEscalation") is not False:
        yield Violation(f"{p}.allowPrivilegeEscalation", "allow-privilege-escalation", "must be false")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        yield Violation(f"{p}.capabilities.drop", "capabilities", 'must include "ALL"')
    for cap in caps.get("add") or []:
        if cap not in ALLOWED_CAPABILITIES:
            yield Violation(f"{p}.capabilities.add", "capabilities", f"{cap} may not be added (only NET_BIND_SERVICE)")


def _container(
    path: str, c: Mapping[str, Any], pod_sc: Mapping[str, Any], annotations: Mapping[str, str]
) -> Iterator[Violation]:
    sc = c.get("securityContext") or {}
    p = f"{path}.securityContext"
    yield from _privileges(p, sc)
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if sc.get("runAsNonRoot") is False:
        yield Violation(f"{p}.runAsNonRoot", "run-as-non-root", "runAsNonRoot must not be false")
    elif non_root is not True:
        yield Violation(f"{p}.runAsNonRoot", "run-as-non-root", "runAsNonRoot must be true (here or in the pod's)")
    if sc.get("runAsUser") == 0:
        yield Violation(f"{p}.runAsUser", "run-as-user", "runAsUser must not be 0 (root)")
    seccomp = (sc.get("seccompProfile") or {}).get("type", (pod_sc.get("seccompProfile") or {}).get("type"))
    if seccomp not in SECCOMP_TYPES:
        yield Violation(
            f"{p}.seccompProfile.type",
            "seccomp",
            "seccompProfile.type must be RuntimeDefault or Localhost (here or in the pod's)",
        )
    if sc.get("procMount", "Default") != "Default":
        yield Violation(f"{p}.procMount", "proc-mount", "procMount must be unset or Default")
    yield from _selinux(p, sc)
    for j, port in enumerate(c.get("ports") or []):
        if port.get("hostPort"):
            yield Violation(f"{path}.ports[{j}].hostPort", "host-ports", "hostPort must be unset or 0")
    apparmor = annotations.get(APPARMOR_PREFIX + str(c.get("name")))
    if apparmor is not None and apparmor != "runtime/default" and not apparmor.startswith("localhost/"):
        yield Violation(
            f"metadata.annotations[{APPARMOR_PREFIX}{c.get('name')}]",
            "apparmor",
            "AppArmor profile must be a default one",
        )


def restricted_violations(spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None) -> list[Violation]:
    """Every rule of the restricted profile that the pod spec `spec` (with its pod `annotations`) breaks."""
    pod_sc = spec.get("securityContext") or {}
    out = [*_host_namespaces(spec), *_volumes(spec), *_pod_level(spec)]
    for path, c in _containers(spec):
        out.extend(_container(path, c, pod_sc, annotations or {}))
    return out


def lockdown_violations(spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None) -> list[Violation]:
    """The restricted profile's violations plus kubetask's own lockdown: read-only root filesystems and
    no ServiceAccount token mounted."""
    out = restricted_violations(spec, annotations)
    for path, c in _containers(spec):
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            out.append(
                Violation(f"{path}.securityContext.readOnlyRootFilesystem", "read-only-root-filesystem", "must be true")
            )
    if spec.get("automountServiceAccountToken") is not False:
        out.append(Violation("spec.automountServiceAccountToken", "service-account-token", "must be false"))
    return out


def pod_specs(manifest: Mapping[str, Any]) -> Sequence[tuple[str, Mapping[str, Any], Mapping[str, str]]]:
    """The pod specs (with their pod annotations) inside a Pod, Job, CronJob, Deployment, StatefulSet,
    DaemonSet or ReplicaSet manifest, each with the manifest's kind/name: what a test checks."""
    kind, name = manifest.get("kind"), (manifest.get("metadata") or {}).get("name")
    spec = manifest.get("spec") or {}
    if kind == "Pod":
        return [(f"Pod/{name}", spec, (manifest.get("metadata") or {}).get("annotations") or {})]
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    if kind in {"Job", "CronJob", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"} and template:
        return [
            (f"{kind}/{name}", template.get("spec") or {}, (template.get("metadata") or {}).get("annotations") or {})
        ]
    return []


def task_pod_violations(
    spec: Mapping[str, Any],
    annotations: Mapping[str, str] | None = None,
    *,
    relax: Collection[Relaxation] = (),
    capabilities: Collection[str] = (),
) -> list[Violation]:
    """The lockdown's violations of a task pod that its template's `relax` and `capabilities` do not allow:
    a capability is allowed in `capabilities.add` when the template names it."""
    lifted = {RELAXED_RULES[r] for r in relax}
    out = [
        v
        for v in lockdown_violations(spec, annotations)
        if v.rule not in lifted and not (v.rule == "capabilities" and v.path.endswith(".capabilities.add"))
    ]
    allowed = ALLOWED_CAPABILITIES | set(capabilities)
    for path, c in _containers(spec):
        for cap in ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []:
            if cap not in allowed:
                message = f"{cap} may not be added (only NET_BIND_SERVICE and the template's capabilities)"
                out.append(Violation(f"{path}.securityContext.capabilities.add", "capabilities", message))
    return out


def relaxation_for(rule: str) -> Relaxation | None:
    """The relaxation that lets a task pod break `rule`, if one does (for a violation's fix)."""
    return next((r for r, lifted in RELAXED_RULES.items() if lifted == rule), None)
