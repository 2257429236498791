"""`helm install`, `upgrade` and `uninstall` of charts/kubetask on the suite's cluster, with the operator and
the API running as pods from their images and PostgreSQL reached from the pods as in production.

- Cluster: the suite's (it has the node, kube-proxy and the endpoints controllers; a second cluster with a
  node would get no kube-proxy while the suite's runs, see cluster.sh). Its CRDs were created from crds/
  before the release, and Helm adopts only objects carrying its ownership label and annotations: the test
  adds them, as an operator would to bring existing CRDs under a release (Helm's documented adoption), so
  the chart owns the CRDs from the install on; afterwards they are put back as crds/ has them. The session's
  operator steps aside meanwhile (the release's operator watches every namespace).
- PostgreSQL: a throwaway server on the host, listening on the cluster's bridge address (pods may reach
  nothing else), behind a Service without a selector and a manual Endpoints object; the pods get the URL
  (a password role, through the Service's ClusterIP: the local cluster has no cluster DNS) from an existing
  Secret (database.existingSecret).
- The API from the host: a Service's ClusterIP is not reachable from host processes here (cluster.sh
  routes the service range to `unreachable`, so connect() fails before kube-proxy's OUTPUT rules), so the
  release's API Service is a NodePort, reached on the node's (bridge) address, as an outside client would
  reach a NodePort or LoadBalancer Service.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from kubernetes import client

from kubetask.labels import ANNOTATION_SUBMITTED_BY
from kubetask.models import GROUP, VERSION
from kubetask.pod_security import lockdown_violations
from kubetask.testing.bridge import bridge_address
from kubetask.testing.cluster import (
    EXECUTOR_IMAGE,
    NONROOT_UID,
    Cluster,
    OperatorProcess,
    app_images,
    get_task,
    service_account_token,
    wait_for,
    wait_namespace_ready,
    wait_task,
)
from kubetask.testing.helm import helm_binary
from kubetask.testing.postgres import PostgresServer, throwaway_postgres

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kubetask"
RELEASE = "kt"
FULLNAME = f"{RELEASE}-kubetask"
ADDED_FIELD = "upgradeNote"  # the optional Task spec property the upgrade's chart adds to the CRD
# the executor pod checks its own lockdown from inside and fails unless every check holds
PROBE = """
import os, sys
assert os.getuid() == os.getgid() == int(sys.argv[1]), (os.getuid(), os.getgid())
assert not os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token"), "a token is mounted"
try:
    open("/probe", "w")
except OSError:
    pass
else:
    sys.exit("the root filesystem is writable")
open("/tmp/probe", "w").write("ok")
print("locked down")
"""
# the gated task runs until the test opens its gate: an HTTP server of the test on the bridge address
GATED = """
import sys, time, urllib.request
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
            if r.read() == b"open":
                break
    except OSError:
        pass
    time.sleep(1)
print("through the gate")
"""


class Gate:
    """An HTTP server on `address` answering `closed` until open() is called, then `open`."""

    def __init__(self, address: str) -> None:
        self.is_open = threading.Event()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = b"open" if gate.is_open.is_set() else b"closed"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
                del format, args

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.url = f"http://{address}:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Gate:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Release:
    cluster: Cluster
    namespace: str
    postgres: PostgresServer
    database_url: str  # as the pods use it (the Service's ClusterIP)
    bridge: str

    def helm(self, *args: str) -> str:
        r = subprocess.run(
            [str(helm_binary(4)), "--kubeconfig", str(self.cluster.kubeconfig), "-n", self.namespace, *args],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout


def _crd_files() -> dict[str, dict[str, Any]]:
    docs = (yaml.safe_load(p.read_text()) for p in sorted((ROOT / "crds").glob("*.yaml")))
    return {d["metadata"]["name"]: d for d in docs}


def _crds(cluster: Cluster) -> Any:
    return client.ApiextensionsV1Api(cluster.api())


def _lend_crds(cluster: Cluster, namespace: str) -> None:
    """Helm's adoption: an existing object with these label and annotations is taken into the release."""
    for name in _crd_files():
        patch = {
            "metadata": {
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": namespace},
            }
        }
        _crds(cluster).patch_custom_resource_definition(name, patch)


def _restore_crds(cluster: Cluster) -> None:
    """The CRDs as crds/ has them (no Helm metadata, no added field), for the rest of the session."""
    for name, doc in _crd_files().items():
        live = cluster.kubectl("get", "crd", name, "-o", "json").stdout
        body = json.loads(live)
        body["spec"] = doc["spec"]
        body["metadata"]["labels"] = doc["metadata"].get("labels") or {}
        body["metadata"]["annotations"] = doc["metadata"].get("annotations") or {}
        cluster.kubectl("replace", "-f", "-", input=json.dumps(body))


@pytest.fixture
def dedicated_cluster(cluster: Cluster, operator: OperatorProcess) -> Iterator[Cluster]:
    """The suite's cluster with the app images on its node and the session's operator stopped."""
    cluster.require_proxy()
    cluster.import_images(*app_images())
    operator.stop()
    try:
        yield cluster
    finally:  # the next tests expect the session's operator as it was: watching, every Task re-derived
        assert operator.start_and_resync(timeout=120), "the session's operator did not resync after the release test"


@pytest.fixture
def release(dedicated_cluster: Cluster) -> Iterator[Release]:
    """A release namespace, PostgreSQL for its pods and the Secret naming it; all gone afterwards."""
    cluster = dedicated_cluster
    core = cluster.core()
    ns = f"helm-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": ns}})
    wait_namespace_ready(core, ns)
    bridge = bridge_address(cluster)
    subnet = (cluster.dir / "pod-subnet").read_text().strip()
    password = secrets.token_hex(16)
    try:
        with throwaway_postgres(address=bridge, clients=subnet) as pg:
            with psycopg.connect(pg.url(), autocommit=True) as conn:
                conn.execute(f"CREATE ROLE kubetask LOGIN PASSWORD '{password}'")
                conn.execute("CREATE DATABASE kubetask OWNER kubetask")
            # PostgreSQL outside the cluster, as a managed database would be: a Service without a selector
            # and the Endpoints object the endpoints controller would otherwise own
            svc = core.create_namespaced_service(
                ns, {"metadata": {"name": "postgres"}, "spec": {"ports": [{"port": 5432, "targetPort": pg.port}]}}
            )
            endpoints = {"addresses": [{"ip": bridge}], "ports": [{"port": pg.port}]}
            core.create_namespaced_endpoints(ns, {"metadata": {"name": "postgres"}, "subsets": [endpoints]})
            url = f"postgresql://kubetask:{password}@{svc.spec.cluster_ip}:5432/kubetask"
            secret = {"metadata": {"name": "kubetask-database"}, "stringData": {"url": url}}
            core.create_namespaced_secret(ns, secret)
            _lend_crds(cluster, ns)
            try:
                yield Release(cluster, ns, pg, url, bridge)
            finally:
                subprocess.run(
                    [str(helm_binary(4)), "--kubeconfig", str(cluster.kubeconfig), "-n", ns, "uninstall", RELEASE],
                    capture_output=True,
                    timeout=300,
                )
                _wait_release_pods_gone(cluster, ns, force=True)
                _restore_crds(cluster)
    finally:
        core.delete_namespace(ns)


def _upgraded_chart(tmp_path: Path) -> Path:
    """The chart with one more optional property in the Task CRD (files/crds is a link: copied as files)."""
    new = tmp_path / "kubetask-next"
    shutil.copytree(CHART, new, symlinks=False)
    path = new / "files" / "crds" / "kubetask.io_tasks.yaml"
    crd = yaml.safe_load(path.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"][ADDED_FIELD] = {"type": "string", "description": "A note (added by the next chart)."}
    path.write_text(yaml.safe_dump(crd, sort_keys=False))
    return new


def _rolled_out(cluster: Cluster, ns: str, name: str, replicas: int) -> None:
    """Deployment `name` has `replicas` pods of its newest template, all ready, and no old ones."""
    apps: Any = client.AppsV1Api(cluster.api())

    def done() -> bool:
        d = apps.read_namespaced_deployment(name, ns)
        s = d.status
        return (
            s.observed_generation == d.metadata.generation
            and s.updated_replicas == replicas
            and s.ready_replicas == replicas
            and (s.replicas or 0) == replicas
        )

    try:
        wait_for(f"deployment {ns}/{name} rolled out with {replicas} ready", done, timeout=300, interval=1)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{_pod_report(cluster, ns, name.rsplit('-', 1)[-1])}") from None


def _pod_report(cluster: Cluster, ns: str, component: str) -> str:
    """What a rollout that did not finish left: each pod's phase, conditions, containers and log tail."""
    lines = []
    for p in _pods(cluster, ns, component):
        conditions = [f"{c.type}={c.status}" for c in p.status.conditions or ()]
        lines.append(f"pod {p.metadata.name}: {p.status.phase} {' '.join(conditions)}")
        for c in p.status.container_statuses or ():
            state = c.state.waiting or c.state.terminated or c.state.running
            lines.append(f"  {c.name}: ready={c.ready} restarts={c.restart_count} {state}")
        lines.append(cluster.kubectl("logs", "-n", ns, p.metadata.name, "--tail=40", check=False).stdout)
    events = cluster.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False).stdout
    return "\n".join([*lines, *events.splitlines()[-20:]])


def _pods(cluster: Cluster, ns: str, component: str) -> list[Any]:
    selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}"
    items: list[Any] = cluster.core().list_namespaced_pod(ns, label_selector=selector).items
    return items


def _release_pods(cluster: Cluster, ns: str) -> list[str]:
    """The release's pods left, each with its phase and whether it is being deleted."""
    pods = cluster.core().list_namespaced_pod(ns, label_selector=f"app.kubernetes.io/instance={RELEASE}").items
    return [
        f"{p.metadata.name} ({p.status.phase}{', deleting' if p.metadata.deletion_timestamp else ''})" for p in pods
    ]


def _wait_release_pods_gone(cluster: Cluster, ns: str, *, force: bool = False) -> None:
    """Until no pod of the release is left: an operator pod still terminating would act on the next tests'
    Tasks next to the session's operator. The pods' grace period (30 s) plus the garbage collector's
    ReplicaSet-then-pod deletion on a busy node: 180 s. `force` (teardown): delete what is left, then wait."""
    try:
        wait_for("the release's pods gone", lambda: not _release_pods(cluster, ns), timeout=180, interval=1)
    except AssertionError:
        left = _release_pods(cluster, ns)
        if not force:
            raise AssertionError(f"the release's pods still there 180 s after uninstall: {left}") from None
        selector = f"app.kubernetes.io/instance={RELEASE}"
        cluster.kubectl("delete", "pods", "-n", ns, "-l", selector, "--grace-period=0", "--force", check=False)
        wait_for(f"the release's pods gone after a forced delete (were {left})", lambda: not _release_pods(cluster, ns))


def _api_url(cluster: Cluster, ns: str, bridge: str) -> str:
    svc = cluster.core().read_namespaced_service(f"{FULLNAME}-api", ns)
    assert svc.spec.type == "NodePort"
    return f"http://{bridge}:{svc.spec.ports[0].node_port}"


def _listed(http: httpx.Client, ns: str, name: str, phase: str) -> dict[str, Any] | None:
    r = http.get(f"/api/v1/namespaces/{ns}/tasks")
    assert r.status_code == 200, r.text
    return next((t for t in r.json()["items"] if t["name"] == name and t["phase"] == phase), None)


def _history(pg: PostgresServer, name: str) -> list[tuple[str, str]]:
    """(name, phase) of the task's rows in the release's database, read directly."""
    with psycopg.connect(pg.url("kubetask")) as conn:
        rows = conn.execute("SELECT name, phase FROM tasks WHERE name = %s", (name,)).fetchall()
    return [(str(n), str(p)) for n, p in rows]


def _executor_pod(cluster: Cluster, ns: str, http: httpx.Client, task: str) -> dict[str, Any]:
    attempts = http.get(f"/api/v1/namespaces/{ns}/tasks/{task}/attempts").json()
    assert len(attempts) == 1, attempts
    pod: dict[str, Any] = json.loads(
        cluster.kubectl("get", "pod", "-n", ns, attempts[0]["podName"], "-o", "json").stdout
    )
    return pod


def _operator_log(cluster: Cluster, ns: str) -> str:
    return "\n".join(cluster.kubectl("logs", "-n", ns, p.metadata.name).stdout for p in _pods(cluster, ns, "operator"))


def test_a_release_runs_tasks_through_an_upgrade_and_keeps_them_on_uninstall(release: Release, tmp_path: Path) -> None:
    cluster, ns = release.cluster, release.namespace
    values = ["--set", "operator.image.pullPolicy=Never", "--set", "api.image.pullPolicy=Never"]
    values += ["--set", "api.service.type=NodePort"]
    release.helm("install", RELEASE, str(CHART), *values, "--set", "api.replicas=1")
    for c in _crds(cluster).list_custom_resource_definition().items:
        if c.metadata.name in _crd_files():  # adopted: the release owns them now
            assert c.metadata.annotations["meta.helm.sh/release-name"] == RELEASE
            assert c.metadata.annotations["helm.sh/resource-policy"] == "keep"
    _rolled_out(cluster, ns, f"{FULLNAME}-operator", 1)
    _rolled_out(cluster, ns, f"{FULLNAME}-api", 1)

    # a user as the chart means it: a ServiceAccount bound to `edit`, into which the chart's roles aggregate
    cluster.rbac().create_namespaced_role_binding(
        ns,
        {
            "metadata": {"name": "submitter-edit"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "ServiceAccount", "name": "submitter", "namespace": ns}],
        },
    )
    token = {"Authorization": f"Bearer {service_account_token(cluster, ns, 'submitter')}"}
    url = _api_url(cluster, ns, release.bridge)
    with httpx.Client(base_url=url, headers=token, timeout=30) as http, Gate(release.bridge) as gate:
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok", ready.text
        (op,) = _pods(cluster, ns, "operator")  # kopf's liveness endpoint, which the livenessProbe asks
        assert op.spec.containers[0].liveness_probe.http_get.path == "/healthz"
        alive = httpx.get(f"http://{op.status.pod_ip}:8081/healthz", timeout=30)
        assert alive.status_code == 200, alive.text
        account = f"{FULLNAME}-task"  # the chart's ServiceAccount for task pods
        for name, code, args in (("probe", PROBE, [str(NONROOT_UID)]), ("gated", GATED, [gate.url])):
            spec = {**EXECUTOR_IMAGE, "command": ["python3", "-c", code], "args": args, "serviceAccountName": account}
            r = http.post(f"/api/v1/namespaces/{ns}/templates", json={"name": name, "spec": spec})
            assert r.status_code == 201, r.text

        r = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "probe", "name": "probe-1"})
        assert r.status_code == 201, r.text
        done = wait_task(cluster, ns, "probe-1", timeout=240)
        assert done["status"]["phase"] == "Succeeded", (done["status"], _operator_log(cluster, ns)[-3000:])
        by = done["metadata"]["annotations"][ANNOTATION_SUBMITTED_BY]  # who asked, as TokenReview named them
        assert by == f"system:serviceaccount:{ns}:submitter"
        assert http.get(f"/api/v1/namespaces/{ns}/tasks", headers={"Authorization": ""}).status_code == 401
        assert wait_for("probe-1 listed as Succeeded", lambda: _listed(http, ns, "probe-1", "Succeeded"))
        assert _history(release.postgres, "probe-1") == [("probe-1", "Succeeded")]  # from SQL, in PostgreSQL

        pod = _executor_pod(cluster, ns, http, "probe-1")
        assert pod["spec"]["serviceAccountName"] == account
        assert lockdown_violations(pod["spec"], pod["metadata"].get("annotations")) == []
        assert pod["spec"]["securityContext"]["runAsUser"] == NONROOT_UID
        assert not [v for v in pod["spec"].get("volumes", []) if "projected" in v or "secret" in v]
        (status,) = pod["status"]["containerStatuses"]
        assert status["state"]["terminated"]["exitCode"] == 0, status
        assert "locked down" in cluster.kubectl("logs", "-n", ns, pod["metadata"]["name"]).stdout

        r = http.post(f"/api/v1/namespaces/{ns}/tasks", json={"template": "gated", "name": "gated-1"})
        assert r.status_code == 201, r.text
        wait_task(cluster, ns, "gated-1", phases={"Running"}, timeout=240)
        (old_operator,) = _pods(cluster, ns, "operator")

        # the upgrade: two API replicas, the operator at DEBUG, one more field in the Task CRD
        more = ["--set", "api.replicas=2", "--set", "operator.logLevel=DEBUG"]
        # Helm 4 applies server-side: the adopted CRDs' .spec.versions is still owned by the field manager
        # that created them (cluster.sh's kubectl apply --server-side), so changing it needs --force-conflicts
        force = ["--force-conflicts"]
        release.helm("upgrade", RELEASE, str(_upgraded_chart(tmp_path)), *values, *more, *force)
        task_crd = _crds(cluster).read_custom_resource_definition(f"tasks.{GROUP}")
        assert ADDED_FIELD in task_crd.spec.versions[0].schema.open_apiv3_schema.properties["spec"].properties
        _rolled_out(cluster, ns, f"{FULLNAME}-api", 2)
        _rolled_out(cluster, ns, f"{FULLNAME}-operator", 1)
        (new_operator,) = _pods(cluster, ns, "operator")
        assert new_operator.metadata.uid != old_operator.metadata.uid  # the changed env replaced it
        env = {e.name: e.value for e in new_operator.spec.containers[0].env}
        assert env["KUBETASK_OPERATOR_LOG_LEVEL"] == "DEBUG"

        assert get_task(cluster, ns, "gated-1")["status"]["phase"] == "Running"  # the upgrade left it running
        gate.is_open.set()
        done = wait_task(cluster, ns, "gated-1", timeout=240)
        assert done["status"]["phase"] == "Succeeded", (done["status"], _operator_log(cluster, ns)[-3000:])
        assert wait_for("gated-1 listed as Succeeded", lambda: _listed(http, ns, "gated-1", "Succeeded"))
        assert _listed(http, ns, "probe-1", "Succeeded")  # finished before the upgrade, still listed
        for p in _pods(cluster, ns, "api") + _pods(cluster, ns, "operator"):
            status = p.status.container_statuses[0]
            if status.restart_count:  # say why: the last state and what the previous container printed
                last = status.last_state.terminated
                why = f"{last.reason} (exit {last.exit_code}) at {last.finished_at}" if last else status.last_state
                before = cluster.kubectl("logs", "-n", ns, "--previous", p.metadata.name, check=False)
                raise AssertionError(
                    f"{p.metadata.name} restarted {status.restart_count}: {why}\n{before.stdout[-3000:]}"
                )

    kept = {t: get_task(cluster, ns, t)["metadata"]["uid"] for t in ("probe-1", "gated-1")}
    release.helm("uninstall", RELEASE)
    assert client.AppsV1Api(cluster.api()).list_namespaced_deployment(ns).items == []
    _wait_release_pods_gone(cluster, ns)
    left = {c.metadata.name for c in _crds(cluster).list_custom_resource_definition().items}
    assert set(_crd_files()) <= left  # helm.sh/resource-policy: keep
    for t, uid in kept.items():
        assert cluster.custom().get_namespaced_custom_object(GROUP, VERSION, ns, "tasks", t)["metadata"]["uid"] == uid
