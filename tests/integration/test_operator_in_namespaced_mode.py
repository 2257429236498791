"""The operator in namespaced mode, with the chart's namespaced RBAC and nothing more.

The chart's ServiceAccounts, Roles, RoleBindings and ClusterRoles (rbac.scope namespaced, one
watched namespace) are applied to the suite's cluster; the operator runs on the host with a
kubeconfig holding only its ServiceAccount's token and KUBETASK_OPERATOR_NAMESPACES set. Its
rights match an expected list (`kubectl auth can-i --list`), it is refused (403) outside the
watched namespace, its start-up resync and on-demand sweep list only what it may, and a Task in the
watched namespace runs to Succeeded while one outside is left alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubetask.testing.cluster import (
    Cluster,
    OperatorProcess,
    create,
    dedicated_operator,
    get_task,
    python_spec,
    service_account_token,
    task,
    wait_namespace_ready,
    wait_task,
)
from kubetask.testing.helm import helm_binary

ROOT = Path(__file__).resolve().parents[2]
RBAC_KINDS = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
# what any authenticated user may do (system:basic-user), then the chart's grants
EVERYONE = {
    "selfsubjectaccessreviews.authorization.k8s.io": {"create"},
    "selfsubjectrulesreviews.authorization.k8s.io": {"create"},
}
CLUSTER_WIDE = {"customresourcedefinitions.apiextensions.k8s.io": {"list", "watch"}, "namespaces": {"list", "watch"}}
IN_WATCHED = {
    "tasks.kubetask.io": {"get", "list", "watch", "create", "patch", "update", "delete"},
    "tasks.kubetask.io/status": {"get", "patch", "update"},
    "taskschedules.kubetask.io/status": {"get", "patch", "update"},
    "taskschedules.kubetask.io": {"get", "list", "watch", "patch", "update"},
    "tasktemplates.kubetask.io": {"get", "list", "watch"},
    "jobs.batch": {"get", "list", "watch", "create", "delete"},
    "pods": {"get", "list", "watch", "patch"},
    "pods/log": {"get"},
    "events": {"create", "patch"},
}
LEASE = {"leases.coordination.k8s.io": {"get", "create", "update", "patch"}}


def _can_i(cluster: Cluster, user: str, ns: str) -> dict[str, set[str]]:
    out = cluster.kubectl("auth", "can-i", "--list", f"--as={user}", "-n", ns).stdout
    rights: dict[str, set[str]] = {}
    for line in out.splitlines()[1:]:
        m = re.match(r"^(\S+)\s+\[.*?\]\s+\[.*?\]\s+\[(.*)\]$", line)
        if m:  # resource rows (non-resource URL rows start with blanks)
            rights.setdefault(m.group(1), set()).update(m.group(2).split())
    return rights


@pytest.fixture
def namespaces(cluster: Cluster) -> Iterator[tuple[str, str, str]]:
    """(release, watched, outside): three fresh namespaces."""
    core = cluster.core()
    base = f"nsm-{uuid.uuid4().hex[:6]}"
    names = (f"{base}-rel", f"{base}-in", f"{base}-out")
    for ns in names:
        core.create_namespace({"metadata": {"name": ns}})
        wait_namespace_ready(core, ns)
    try:
        yield names
    finally:
        for ns in names:
            core.delete_namespace(ns)
        core_rbac = cluster.kubectl(
            "delete", "clusterrole,clusterrolebinding", "-l", f"app.kubernetes.io/instance={base}", check=False
        )
        del core_rbac


def _token_kubeconfig(cluster: Cluster, release: str, account: str, path: Path) -> Path:
    token = service_account_token(cluster, release, account)
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    (entry,) = admin["clusters"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [entry],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": entry["name"], "user": "operator"}}],
        "current-context": "operator",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def own_namespaced_operator(
    cluster: Cluster, operator: OperatorProcess, namespaces: tuple[str, str, str], tmp_path: Path
) -> Iterator[tuple[OperatorProcess, Path]]:
    release, watched, _ = namespaces
    base = release.removesuffix("-rel")
    rendered = subprocess.run(
        [
            str(helm_binary(4)),
            "template",
            base,
            str(ROOT / "charts/kubetask"),
            "-n",
            release,
            "--kube-version",
            "1.20.2",
            "--set",
            "rbac.scope=namespaced",
            "--set",
            f"rbac.watchNamespaces={{{watched}}}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    rbac = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in RBAC_KINDS]
    for d in rbac:  # as helm install would: namespaced objects without one go to the release namespace
        if d["kind"] not in {"ClusterRole", "ClusterRoleBinding"}:
            d["metadata"].setdefault("namespace", release)
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
    account = f"{base}-kubetask-operator"
    kubeconfig = _token_kubeconfig(cluster, release, account, tmp_path / "operator.kubeconfig")
    env = {
        "KUBECONFIG": str(kubeconfig),
        "KUBETASK_OPERATOR_NAMESPACES": json.dumps([watched]),
        "KUBETASK_OPERATOR_LEASE_NAMESPACE": release,
        "KUBETASK_OPERATOR_LEASE_NAME": account,
    }
    with dedicated_operator(operator, cluster, tmp_path / "op.log", env=env) as op:
        yield op, kubeconfig


def test_the_operator_acts_only_where_its_roles_are(
    cluster: Cluster, namespaces: tuple[str, str, str], own_namespaced_operator: tuple[OperatorProcess, Path]
) -> None:
    release, watched, outside = namespaces
    op, kubeconfig = own_namespaced_operator
    user = f"system:serviceaccount:{release}:{release.removesuffix('-rel')}-kubetask-operator"

    assert _can_i(cluster, user, watched) == {**EVERYONE, **CLUSTER_WIDE, **IN_WATCHED}
    assert _can_i(cluster, user, outside) == {**EVERYONE, **CLUSTER_WIDE}
    assert _can_i(cluster, user, release) == {**EVERYONE, **CLUSTER_WIDE, **LEASE}
    refused = subprocess.run(
        [
            str(Path(cluster.kubectl.__globals__["sys"].executable).parent / "kubectl"),
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "tasks",
            "-n",
            outside,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "Forbidden" in refused.stderr, refused.stderr

    create(cluster, watched, "tasks", task("inside", **python_spec("print('hi')")))
    create(cluster, outside, "tasks", task("outside", **python_spec("print('hi')")))
    assert wait_task(cluster, watched, "inside", timeout=120)["status"]["phase"] == "Succeeded"
    line = op.sweep_now()
    assert "0 unfinished tasks re-checked" in line, line  # listed the watched namespace only, and found it done
    assert "status" not in get_task(cluster, outside, "outside")  # not watched: never touched
    assert "403" not in op.output() and "Forbidden" not in op.output(), op.output()[-3000:]
