"""Services work in the local cluster (scripts/cluster/cluster.sh): the endpoint controllers fill Endpoints,
kube-proxy translates ClusterIPs, and the apiserver, bound to the bridge address, is the `kubernetes`
Service's endpoint. A real pod reaches another through a Service, and the apiserver with the official
client's in-cluster config (KUBERNETES_SERVICE_HOST, the ServiceAccount's token and CA), as the operator
and API pods do; what RBAC grants that ServiceAccount is all it gets.
"""

from __future__ import annotations

import ipaddress

import pytest

from kubetask.testing.cluster import EXECUTOR_IMAGE, OPERATOR_IMAGE, Cluster, app_images, wait_for
from kubetask.testing.pods import endpoints_ready, pod, ready_ip, reported, service

# runs in the operator image: the official client is there (the executor image has the standard library only)
CLIENT = """
import json, os, urllib.request
from kubernetes import client, config

seen = {"kubernetes_service_host": os.environ["KUBERNETES_SERVICE_HOST"]}
web = f"http://{os.environ['WEB_SERVICE_HOST']}:{os.environ['WEB_SERVICE_PORT']}/"
with urllib.request.urlopen(web, timeout=30) as r:
    seen["web"] = [web, r.status]
config.load_incluster_config()
api = client.CoreV1Api()
seen["host"] = api.api_client.configuration.host
seen["pods"] = sorted(p.metadata.name for p in api.list_namespaced_pod(os.environ["NS"]).items)
try:
    api.list_namespaced_secret(os.environ["NS"])
    seen["secrets"] = "allowed"
except client.ApiException as e:
    seen["secrets"] = e.status
with open("/dev/termination-log", "w") as f:
    json.dump(seen, f)
"""


@pytest.fixture(scope="module")
def app_images_on_node(cluster: Cluster) -> None:
    cluster.import_images(*app_images())


@pytest.mark.usefixtures("app_images_on_node")
def test_pod_reaches_a_pod_through_a_service_and_the_apiserver_through_kubernetes_service(
    cluster: Cluster, namespace: str
) -> None:
    cluster.require_proxy()
    core, rbac = cluster.core(), cluster.rbac()
    probe = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    core.create_namespaced_pod(
        namespace, pod("web", EXECUTOR_IMAGE, ["python3", "-m", "http.server", "8080"], readinessProbe=probe)
    )
    web_ip = ready_ip(core, namespace, "web")
    svc = core.create_namespaced_service(namespace, service("web", 80, 8080))
    cluster_ip = svc.spec.cluster_ip
    assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network(cluster.service_range())
    assert endpoints_ready(core, namespace, "web") == [web_ip]
    kubernetes = core.read_namespaced_endpoints("kubernetes", "default")
    assert kubernetes.subsets, "the `kubernetes` Service has no endpoints: the apiserver advertises nothing reachable"

    # A ServiceAccount that may read pods and nothing else (checked: secrets are refused).
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "reader"}, "rules": rules})
    binding = {
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
    }
    rbac.create_namespaced_role_binding(namespace, binding)
    # the token controller adds the account's token Secret a moment later; a pod created before that
    # is refused ("No API token found for service account")
    wait_for("the reader's token", lambda: core.read_namespaced_service_account("reader", namespace).secrets)

    env = [{"name": "NS", "value": namespace}]
    spec = {"serviceAccountName": "reader"}
    core.create_namespaced_pod(namespace, pod("client", OPERATOR_IMAGE, ["python3", "-c", CLIENT], spec=spec, env=env))
    seen = reported(core, namespace, "client")

    # The Service's variables (made for Services that exist before the pod) name its ClusterIP.
    assert seen["web"] == [f"http://{cluster_ip}:80/", 200], seen
    first = str(next(ipaddress.ip_network(cluster.service_range()).hosts()))
    assert seen["kubernetes_service_host"] == first, seen
    assert seen["host"] == f"https://{first}:443", seen
    assert seen["pods"] == ["client", "web"], seen
    assert seen["secrets"] == 403, seen
