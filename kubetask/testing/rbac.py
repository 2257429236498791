"""Test-side RBAC on the real cluster: the chart's aggregated user roles and bindings to them.

The roles are rendered from the chart (`helm template --show-only templates/user-roles.yaml`), never
copied by hand, so a test checks what a release installs. Kubernetes 1.20 gives every ServiceAccount
a token Secret (the token controller), whose `.data.token` is a real
bearer token the apiserver's TokenReview accepts (`cluster.service_account_token`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from .cluster import Cluster
from .helm import helm_binary

CHART = Path(__file__).resolve().parents[2] / "charts" / "kubetask"
USER_ROLES = "templates/user-roles.yaml"


def chart_user_roles(release: str, *, namespace: str = "kubetask") -> list[dict[str, Any]]:
    """The ClusterRoles `<release>-kubetask-admin|edit|view` as the chart renders them (Helm 4)."""
    args = [str(helm_binary(4)), "template", release, str(CHART), "-n", namespace, "--kube-version", "1.20.2"]
    out = subprocess.run([*args, "--show-only", USER_ROLES], capture_output=True, text=True, timeout=120, check=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def service_account_user(namespace: str, name: str) -> str:
    """The user name the apiserver gives ServiceAccount `name`'s token."""
    return f"system:serviceaccount:{namespace}:{name}"


def bind_in_namespace(cluster: Cluster, namespace: str, role: str, sa_namespace: str, sa: str) -> None:
    """RoleBinding `<sa>-<role>` in `namespace` to ClusterRole `role` for ServiceAccount sa_namespace/sa."""
    cluster.kubectl(
        "-n",
        namespace,
        "create",
        "rolebinding",
        f"{sa}-{role}",
        f"--clusterrole={role}",
        f"--serviceaccount={sa_namespace}:{sa}",
    )


def bind_cluster_wide(cluster: Cluster, binding: str, role: str, sa_namespace: str, sa: str) -> None:
    """ClusterRoleBinding `binding` to ClusterRole `role` for ServiceAccount sa_namespace/sa."""
    cluster.kubectl(
        "create", "clusterrolebinding", binding, f"--clusterrole={role}", f"--serviceaccount={sa_namespace}:{sa}"
    )


def aggregated(cluster: Cluster, builtin: str, resource: str, verb: str) -> bool:
    """Whether built-in ClusterRole `builtin` (edit, view, admin) grants `verb` on kubetask.io `resource`
    yet: the clusterrole-aggregation controller rewrites its rules on its own time."""
    role = cluster.rbac().read_cluster_role(builtin)
    return any(
        "kubetask.io" in (r.api_groups or ()) and resource in (r.resources or ()) and verb in (r.verbs or ())
        for r in role.rules or ()
    )


def grant_in_namespace(cluster: Cluster, ns: str, account: str, resources: list[str], verbs: list[str]) -> None:
    """Role and RoleBinding `account` in `ns`: ServiceAccount ns/account may `verbs` on kubetask.io `resources`."""
    rbac = cluster.rbac()
    rules = [{"apiGroups": ["kubetask.io"], "resources": resources, "verbs": verbs}]
    rbac.create_namespaced_role(ns, {"metadata": {"name": account}, "rules": rules})
    subject = {"kind": "ServiceAccount", "name": account, "namespace": ns}
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account}
    rbac.create_namespaced_role_binding(ns, {"metadata": {"name": account}, "subjects": [subject], "roleRef": ref})
