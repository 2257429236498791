"""The operator and API images (images/operator, images/api; `scripts/images.sh apps`) run as pods of the
local cluster, locked down as a chart would run them: non-root UID 65532, read-only root file system with
an emptyDir at /tmp (their SQLite mirror), every capability dropped, seccomp RuntimeDefault, no privilege
escalation. Each reaches the apiserver through the `kubernetes` Service with its own ServiceAccount, whose
RBAC is written here: the operator pod runs a Task created with kubectl to Succeeded (the session's
operator steps aside meanwhile), and the API pod answers /readyz through its Service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from kubetask.testing.cluster import (
    API_IMAGE,
    EXECUTOR_IMAGE,
    OPERATOR_IMAGE,
    Cluster,
    OperatorProcess,
    app_images,
    python_spec,
    task,
    wait_task,
)
from kubetask.testing.pods import endpoints_ready, pod, ready_ip, reported, service

LOCKED = {
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
TMP = {"volumes": [{"name": "tmp", "emptyDir": {}}]}
TMP_MOUNT = [{"name": "tmp", "mountPath": "/tmp"}]

# What a cluster-wide operator needs, all in one ClusterRole: kopf's CRD and namespace scans and its watches,
# the Tasks' Jobs, pods and logs, Events, the leader Lease. (KUBETASK_OPERATOR_NAMESPACES narrows kopf's
# watches only: the start-up resync and the sweep still list Tasks, Jobs and pods cluster-wide.)
OPERATOR_RULES = [
    {"apiGroups": ["kubetask.io"], "resources": ["*"], "verbs": ["*"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch", "create", "delete", "patch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete", "patch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "patch"]},
]
API_RULES = [
    {"apiGroups": ["kubetask.io"], "resources": ["*"], "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list"]},
]
SCANS = [
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": ["get", "list", "watch"],
    },
]


@pytest.fixture(scope="module")
def app_images_on_node(cluster: Cluster) -> None:
    cluster.import_images(*app_images())


@pytest.fixture
def dedicated_operator_pod(operator: OperatorProcess) -> Iterator[None]:
    """The session's operator steps aside: the pod's operator alone acts on the test's Tasks."""
    operator.stop()
    try:
        yield
    finally:
        operator.start()


def grant(
    cluster: Cluster, ns: str, name: str, rules: list[dict[str, Any]], cluster_rules: list[dict[str, Any]]
) -> None:
    """ServiceAccount `name` with a Role (and, for cluster-scoped reads, a ClusterRole) of these rules."""
    rbac = cluster.rbac()
    cluster.core().create_namespaced_service_account(ns, {"metadata": {"name": name}})
    subject = [{"kind": "ServiceAccount", "name": name, "namespace": ns}]
    rbac.create_namespaced_role(ns, {"metadata": {"name": name}, "rules": rules})
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}
    rbac.create_namespaced_role_binding(ns, {"metadata": {"name": name}, "roleRef": ref, "subjects": subject})
    if cluster_rules:
        cr = f"{ns}-{name}"
        rbac.create_cluster_role({"metadata": {"name": cr}, "rules": cluster_rules})
        ref = {**ref, "kind": "ClusterRole", "name": cr}
        rbac.create_cluster_role_binding({"metadata": {"name": cr}, "roleRef": ref, "subjects": subject})


def revoke(cluster: Cluster, ns: str, name: str) -> None:
    rbac = cluster.rbac()
    for delete in (rbac.delete_cluster_role_binding, rbac.delete_cluster_role):
        try:
            delete(f"{ns}-{name}")
        except client.ApiException as e:
            if e.status != 404:
                raise


def locked_pod(name: str, image: dict[str, str], account: str, env: dict[str, str], **container: Any) -> dict[str, Any]:
    env_list = [{"name": k, "value": v} for k, v in env.items()]
    spec = {"serviceAccountName": account, "securityContext": POD_SECURITY, "restartPolicy": "Always", **TMP}
    body = pod(name, image, [], spec=spec, env=env_list, securityContext=LOCKED, volumeMounts=TMP_MOUNT, **container)
    del body["spec"]["containers"][0]["command"]  # the image's own entrypoint
    return body


@pytest.mark.usefixtures("app_images_on_node", "dedicated_operator_pod")
def test_operator_image_as_a_pod_runs_a_kubectl_created_task_to_succeeded(cluster: Cluster, namespace: str) -> None:
    cluster.require_proxy()
    core = cluster.core()
    grant(cluster, namespace, "kubetask-operator", [], OPERATOR_RULES + SCANS)
    try:
        env = {
            "KUBETASK_OPERATOR_LEASE_NAMESPACE": namespace,
            "KUBETASK_DATABASE_URL": "sqlite:////tmp/kubetask.db",
        }
        core.create_namespaced_pod(namespace, locked_pod("operator", OPERATOR_IMAGE, "kubetask-operator", env))
        body = task("hello", **python_spec("print('hello from a pod operator')"))
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(body))
        done = wait_task(cluster, namespace, "hello", timeout=240)
        log = core.read_namespaced_pod_log("operator", namespace)
        assert done["status"]["phase"] == "Succeeded", (done["status"], log[-3000:])
        p = core.read_namespaced_pod("operator", namespace)
        assert p.status.container_statuses[0].restart_count == 0, log[-3000:]
        assert "Forbidden" not in log, log[-3000:]  # the RBAC above is complete
    finally:
        revoke(cluster, namespace, "kubetask-operator")


@pytest.mark.usefixtures("app_images_on_node")
def test_api_image_as_a_pod_answers_readyz_through_its_service(cluster: Cluster, namespace: str) -> None:
    cluster.require_proxy()
    core = cluster.core()
    grant(cluster, namespace, "kubetask-api", API_RULES, [])
    env = {"KUBETASK_DATABASE_URL": "sqlite:////tmp/kubetask.db"}
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    core.create_namespaced_pod(
        namespace, locked_pod("kubetask-api", API_IMAGE, "kubetask-api", env, readinessProbe=probe)
    )
    api_ip = ready_ip(core, namespace, "kubetask-api")
    svc = core.create_namespaced_service(namespace, service("kubetask-api", 80, 8080))
    assert endpoints_ready(core, namespace, "kubetask-api") == [api_ip]
    code = f"""
import json, os, urllib.request
with urllib.request.urlopen("http://{svc.spec.cluster_ip}/readyz", timeout=30) as r:
    seen = {{"status": r.status, "body": json.load(r)}}
with open("/dev/termination-log", "w") as f:
    json.dump(seen, f)
"""
    core.create_namespaced_pod(namespace, pod("client", EXECUTOR_IMAGE, ["python3", "-c", code]))
    seen = reported(core, namespace, "client")
    assert seen["status"] == 200, seen
    assert seen["body"]["status"] == "ok" and seen["body"]["database"] == "ok", seen
    assert seen["body"]["kubernetes"] == "v1.20.2", seen
    p = core.read_namespaced_pod("kubetask-api", namespace)
    assert p.status.container_statuses[0].restart_count == 0
