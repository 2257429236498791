"""The restricted Pod Security profile's check (kubetask.pod_security) on good and bad pod specs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubetask.pod_security import lockdown_violations, pod_specs, restricted_violations

GOOD: dict[str, Any] = {
    "automountServiceAccountToken": False,
    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "main",
            "image": "x",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            },
        }
    ],
    "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "p", "downwardAPI": {"items": []}}],
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """GOOD with `path` (dots, list indices as numbers) set to `value`; None deletes the key."""
    spec = copy.deepcopy(GOOD)
    node: Any = spec
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    at: Any = int(last) if last.isdigit() else last
    if value is None:
        del node[at]
    else:
        node[at] = value
    return spec


def test_a_locked_down_spec_breaks_no_rule() -> None:
    assert restricted_violations(GOOD) == []
    assert lockdown_violations(GOOD) == []


C = "containers.0.securityContext"


@pytest.mark.parametrize(
    ("path", "value", "rule", "where"),
    [
        ("hostNetwork", True, "host-namespaces", "spec.hostNetwork"),
        ("hostPID", True, "host-namespaces", "spec.hostPID"),
        ("hostIPC", True, "host-namespaces", "spec.hostIPC"),
        ("volumes.0", {"name": "h", "hostPath": {"path": "/"}}, "host-path-volumes", "spec.volumes[0].hostPath"),
        ("volumes.0", {"name": "n", "nfs": {"server": "x"}}, "restricted-volume-types", "spec.volumes[0].nfs"),
        (f"{C}.privileged", True, "privileged", "spec.containers[0].securityContext.privileged"),
        (f"{C}.allowPrivilegeEscalation", None, "allow-privilege-escalation", "allowPrivilegeEscalation"),
        (f"{C}.allowPrivilegeEscalation", True, "allow-privilege-escalation", "allowPrivilegeEscalation"),
        (f"{C}.capabilities.drop", ["NET_RAW"], "capabilities", "capabilities.drop"),
        (f"{C}.capabilities.add", ["SYS_ADMIN"], "capabilities", "capabilities.add"),
        ("securityContext.runAsNonRoot", None, "run-as-non-root", "spec.containers[0].securityContext.runAsNonRoot"),
        ("securityContext.runAsNonRoot", False, "run-as-non-root", "spec.securityContext.runAsNonRoot"),
        (f"{C}.runAsNonRoot", False, "run-as-non-root", "spec.containers[0].securityContext.runAsNonRoot"),
        ("securityContext.runAsUser", 0, "run-as-user", "spec.securityContext.runAsUser"),
        (f"{C}.runAsUser", 0, "run-as-user", "spec.containers[0].securityContext.runAsUser"),
        ("securityContext.seccompProfile", None, "seccomp", "spec.containers[0].securityContext.seccompProfile.type"),
        ("securityContext.seccompProfile", {"type": "Unconfined"}, "seccomp", "spec.securityContext.seccompProfile"),
        (f"{C}.seccompProfile", {"type": "Unconfined"}, "seccomp", "containers[0].securityContext.seccompProfile"),
        (f"{C}.procMount", "Unmasked", "proc-mount", "procMount"),
        (f"{C}.seLinuxOptions", {"type": "spc_t"}, "selinux", "seLinuxOptions.type"),
        ("securityContext.seLinuxOptions", {"user": "root"}, "selinux", "spec.securityContext.seLinuxOptions.user"),
        ("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}], "sysctls", "sysctls[0].name"),
        ("containers.0.ports", [{"containerPort": 80, "hostPort": 80}], "host-ports", "ports[0].hostPort"),
    ],
)
def test_each_broken_rule_is_named_with_its_field(path: str, value: Any, rule: str, where: str) -> None:
    found = restricted_violations(_with(path, value))
    assert {v.rule for v in found} == {rule}, found
    assert any(v.rule == rule and where in v.path for v in found), found


def test_seccomp_may_be_set_on_every_container_instead_of_the_pod() -> None:
    spec = _with("securityContext.seccompProfile", None)
    spec["containers"][0]["securityContext"]["seccompProfile"] = {"type": "Localhost", "localhostProfile": "p"}
    assert restricted_violations(spec) == []


def test_run_as_non_root_may_be_set_on_every_container_instead_of_the_pod() -> None:
    spec = _with("securityContext.runAsNonRoot", None)
    spec["containers"][0]["securityContext"]["runAsNonRoot"] = True
    assert restricted_violations(spec) == []


def test_init_containers_are_checked_too() -> None:
    spec = copy.deepcopy(GOOD)
    spec["initContainers"] = [{"name": "init", "image": "x"}]
    rules = {v.rule for v in restricted_violations(spec) if v.path.startswith("spec.initContainers[0]")}
    assert rules == {"allow-privilege-escalation", "capabilities"}


def test_an_apparmor_annotation_other_than_a_default_profile_breaks_the_rule() -> None:
    key = "container.apparmor.security.beta.kubernetes.io/main"
    assert restricted_violations(GOOD, {key: "runtime/default"}) == []
    assert [v.rule for v in restricted_violations(GOOD, {key: "unconfined"})] == ["apparmor"]


def test_every_broken_rule_is_reported_at_once() -> None:
    bad = {"hostNetwork": True, "containers": [{"name": "a", "image": "x"}]}
    rules = sorted(v.rule for v in restricted_violations(bad))
    assert rules == ["allow-privilege-escalation", "capabilities", "host-namespaces", "run-as-non-root", "seccomp"]


def test_the_lockdown_adds_a_read_only_root_and_no_token() -> None:
    spec = _with(f"{C}.readOnlyRootFilesystem", None)
    del spec["automountServiceAccountToken"]
    assert restricted_violations(spec) == []
    assert sorted(v.rule for v in lockdown_violations(spec)) == ["read-only-root-filesystem", "service-account-token"]


def test_pod_specs_are_found_in_workload_manifests() -> None:
    template = {"metadata": {"annotations": {"a": "b"}}, "spec": GOOD}
    job = {"kind": "Job", "metadata": {"name": "j"}, "spec": {"template": template}}
    cron = {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": template}}}}
    deploy = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": template}}
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": GOOD}
    found = [s for m in (job, cron, deploy, pod) for s in pod_specs(m)]
    assert [name for name, _, _ in found] == ["Job/j", "CronJob/c", "Deployment/d", "Pod/p"]
    assert all(spec is GOOD for _, spec, _ in found)
    assert pod_specs({"kind": "Service", "metadata": {"name": "s"}, "spec": {}}) == []
