"""The Helm chart (charts/kubetask): lint, render with Helm 3 and Helm 4, validate, refuse bad values.

Every value set in charts/kubetask/ci is linted with `--strict`, rendered by both Helm majors for
Kubernetes 1.20.2 (the two must agree), validated offline against the 1.20 schemas
(kubernetes-validate, strict: no unknown fields), checked for the restricted Pod Security profile
on every pod spec, and applied with a server-side dry run to the suite's cluster. The rendered CRDs
must equal the generated ones, and the README must list every value of values.yaml.
"""

from __future__ import annotations

import json
import re
import subprocess
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from kubetask import crdgen
from kubetask.pod_security import pod_specs, restricted_violations
from kubetask.testing.cluster import Cluster
from kubetask.testing.helm import helm_binary

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kubetask"
VALUE_SETS = sorted(p.stem for p in (CHART / "ci").glob("*.yaml"))
KUBE = "1.20.2"
# kinds of CRDs the local cluster does not have (the Prometheus Operator's): validated by their own
# test, left out of kubernetes-validate and of the server-side dry run
NOT_ON_THE_CLUSTER = {"ServiceMonitor"}


def _helm(major: int, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(helm_binary(major)), *args], capture_output=True, text=True, timeout=120)
    if check and r.returncode:
        raise AssertionError(f"helm {major} {' '.join(args)} failed:\n{r.stderr}")
    return r


@cache
def render(major: int, values: str, *, kube: str = KUBE, namespace: str = "kubetask", extra: str = "") -> str:
    args = [
        "template",
        "r",
        str(CHART),
        "-n",
        namespace,
        "--kube-version",
        kube,
        "-f",
        str(CHART / "ci" / f"{values}.yaml"),
    ]
    if extra:
        args += ["--set", extra]
    return _helm(major, *args).stdout


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_the_value_sets_are_the_five_install_modes() -> None:
    assert VALUE_SETS == ["default", "ha", "namespaced", "postgresql", "sqlite"]


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize("values", VALUE_SETS)
def test_lint_strict_passes(major: int, values: str) -> None:
    for kube in (KUBE, "1.29.0"):
        out = _helm(
            major, "lint", "--strict", "--kube-version", kube, str(CHART), "-f", str(CHART / "ci" / f"{values}.yaml")
        )
        assert "0 chart(s) failed" in out.stdout
        assert "[WARNING]" not in out.stdout and "[ERROR]" not in out.stdout


@pytest.mark.parametrize("values", VALUE_SETS)
def test_helm_3_and_4_render_the_same_valid_locked_down_manifests(values: str) -> None:
    three, four = render(3, values), render(4, values)
    assert docs(three) == docs(four)
    manifests = docs(four)
    for m in manifests:
        if m["kind"] in NOT_ON_THE_CLUSTER:
            continue  # a CRD's kind: no schema in kubernetes-validate (test_metrics_… checks it)
        # kubernetes-validate 1.24 (the last release with 1.20 schemas) warns about its own use of
        # pkg_resources and of jsonschema; the validation itself is what counts
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            kubernetes_validate.validate(m, "1.20.0", strict=True)
    deployments = [m for m in manifests if m["kind"] == "Deployment"]
    assert sorted(d["metadata"]["name"] for d in deployments) == ["r-kubetask-api", "r-kubetask-operator"]
    for m in deployments:
        for name, spec, pod_annotations in pod_specs(m):
            assert restricted_violations(spec, pod_annotations) == [], name
            (c,) = spec["containers"]
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert {"name": "tmp", "emptyDir": {}} in spec["volumes"]


def _kinds(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {f"{m['metadata'].get('namespace', '')}/{m['metadata']['name']}": m for m in manifests if m["kind"] == kind}


def test_the_rendered_crds_are_the_generated_ones_and_kept_on_uninstall() -> None:
    crds = _kinds(docs(render(4, "default")), "CustomResourceDefinition")
    generated = crdgen.crds()
    assert sorted(c["metadata"]["name"] for c in crds.values()) == sorted(
        g["metadata"]["name"] for g in generated.values()
    )
    for g in generated.values():
        rendered = crds[f"/{g['metadata']['name']}"]
        assert rendered["spec"] == g["spec"]
        assert rendered["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
        assert rendered["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert _kinds(docs(render(4, "default", extra="crds.install=false")), "CustomResourceDefinition") == {}
    unkept = _kinds(docs(render(4, "default", extra="crds.keep=false")), "CustomResourceDefinition")
    assert all("annotations" not in c["metadata"] for c in unkept.values())


def test_one_operator_recreates_two_roll_behind_a_budget_whose_api_follows_the_kube_version() -> None:
    one = _kinds(docs(render(4, "default")), "Deployment")["/r-kubetask-operator"]
    assert one["spec"]["strategy"]["type"] == "Recreate"
    ha = docs(render(4, "ha"))
    assert _kinds(ha, "Deployment")["/r-kubetask-operator"]["spec"]["strategy"]["type"] == "RollingUpdate"
    budgets = {m["metadata"]["name"]: m["apiVersion"] for m in ha if m["kind"] == "PodDisruptionBudget"}
    assert budgets == {"r-kubetask-operator": "policy/v1beta1", "r-kubetask-api": "policy/v1beta1"}
    later = docs(render(4, "ha", kube="1.21.0"))
    assert {m["apiVersion"] for m in later if m["kind"] == "PodDisruptionBudget"} == {"policy/v1"}
    # one replica: no budget (it would block every node drain)
    assert [m for m in docs(render(4, "sqlite")) if m["kind"] == "PodDisruptionBudget"] == []


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_namespaced_rbac_grants_only_in_the_watched_namespaces() -> None:
    manifests = docs(render(4, "namespaced"))
    roles = _kinds(manifests, "Role")
    assert sorted(roles) == [
        "/r-kubetask-operator-lease",
        "team-a/r-kubetask-api",
        "team-a/r-kubetask-operator",
        "team-b/r-kubetask-api",
        "team-b/r-kubetask-operator",
    ]
    # what the release's own ServiceAccounts hold cluster-wide (the users' aggregated roles bind to no one)
    bound = {b["roleRef"]["name"] for b in _kinds(manifests, "ClusterRoleBinding").values()}
    cluster_rules = [
        r for c in _kinds(manifests, "ClusterRole").values() if c["metadata"]["name"] in bound for r in c["rules"]
    ]
    assert {res for r in cluster_rules for res in r["resources"]} == {"customresourcedefinitions", "namespaces"}
    assert "system:auth-delegator" in bound  # TokenReview and SubjectAccessReview
    operator = _kinds(manifests, "Deployment")["/r-kubetask-operator"]
    assert json.loads(_env(operator)["KUBETASK_OPERATOR_NAMESPACES"]) == ["team-a", "team-b"]
    accounts = _kinds(manifests, "ServiceAccount")
    assert {"kubetask/r-kubetask-task", "team-a/r-kubetask-task", "team-b/r-kubetask-task"} <= set(accounts)
    assert all(accounts[k]["automountServiceAccountToken"] is False for k in accounts if k.endswith("-task"))
    default = docs(render(4, "default"))
    assert json.loads(_env(_kinds(default, "Deployment")["/r-kubetask-operator"])["KUBETASK_OPERATOR_NAMESPACES"]) == []
    assert "tasks" in {
        res for c in _kinds(default, "ClusterRole").values() for r in c["rules"] for res in r["resources"]
    }


def test_the_database_url_comes_from_a_secret_or_a_shared_sqlite_file() -> None:
    pg = _kinds(docs(render(4, "postgresql")), "Deployment")
    for d in pg.values():
        assert _env(d)["KUBETASK_DATABASE_URL"] == {"secretKeyRef": {"name": "kubetask-pg", "key": "DATABASE_URL"}}
    lite = _kinds(docs(render(4, "sqlite")), "Deployment")
    for d in lite.values():
        assert _env(d)["KUBETASK_DATABASE_URL"] == "sqlite:////var/lib/kubetask/kubetask.db"
        volumes = d["spec"]["template"]["spec"]["volumes"]
        assert {"name": "database", "persistentVolumeClaim": {"claimName": "kubetask-data"}} in volumes
    affinity = lite["/r-kubetask-api"]["spec"]["template"]["spec"]["affinity"]["podAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ("surprise=1", "surprise"),
        ("operator.replica=2", "replica"),
        ("api.ingress.hosts=x", "hosts"),
        ("database.type=sqlite,database.sqlite.existingClaim=data", "replicas"),  # 2 API replicas by default
        ("database.type=sqlite,api.replicas=1", "existingClaim"),
        ("database.existingSecret=", "existingSecret"),
        ("rbac.scope=namespaced", "watchNamespaces"),
        ("rbac.scope=everywhere", "scope"),
        ("operator.logFormat=xml", "logFormat"),
        ("api.port=80", "port"),
        ("metrics.operatorPort=8081", "operatorPort"),  # the liveness endpoint's
        ("metrics.serviceMonitor.interval=often", "interval"),
        ("api.auth=basic", "auth"),
        ("api.impersonate=yes", "impersonate"),
        ("rbac.aggregateRoles=maybe", "aggregateRoles"),
    ],
)
@pytest.mark.parametrize("major", [3, 4])
def test_the_schema_refuses_unknown_keys_and_what_cannot_work(major: int, values: str, field: str) -> None:
    r = _helm(major, "template", "r", str(CHART), "--set", values, check=False)
    assert r.returncode != 0
    assert "schema" in r.stderr and field in r.stderr, r.stderr


def _leaves(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict) and node and prefix.count(".") < 3 and not prefix.endswith(("resources", "Selector")):
        return {leaf for k, v in node.items() for leaf in _leaves(v, f"{prefix}.{k}" if prefix else k)}
    return {prefix}


def test_the_readme_lists_every_value_with_its_default() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]*)` \| (.+) \|$", (CHART / "README.md").read_text(), re.MULTILINE)
    documented = {key: json.loads(default) for key, default, _ in rows}
    assert set(documented) == _leaves(values)
    for key, default in documented.items():
        node: Any = values
        for part in key.split("."):
            node = node[part]
        assert node == default, key


def test_the_schema_declares_exactly_the_values() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def declared(node: dict[str, Any], prefix: str = "") -> set[str]:
        props = node.get("properties")
        if node.get("type") != "object" or not props or prefix.endswith("resources"):
            return {prefix}
        assert node.get("additionalProperties") is False, f"{prefix or 'the root'} allows unknown keys"
        return {leaf for k, v in props.items() for leaf in declared(v, f"{prefix}.{k}" if prefix else k)}

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert declared(schema) - {"global"} == _leaves(values)


CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


@pytest.mark.parametrize("values", VALUE_SETS)
def test_the_manifests_pass_a_server_side_dry_run(cluster: Cluster, namespace: str, values: str) -> None:
    core = cluster.core()
    watched = [f"{namespace}-a", f"{namespace}-b"]  # the namespaced set's, made for this test
    for ns in watched:
        core.create_namespace({"metadata": {"name": ns}})
    try:
        rendered = docs(render(4, values, namespace=namespace, extra=f"rbac.watchNamespaces={{{','.join(watched)}}}"))
        manifests = [m for m in rendered if m["kind"] not in NOT_ON_THE_CLUSTER]
        for m in manifests:  # what helm install does: namespaced objects go to the release namespace
            if m["kind"] not in CLUSTER_SCOPED:
                m["metadata"].setdefault("namespace", namespace)
        text = yaml.safe_dump_all(manifests)
        r = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=text, check=False)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("(server dry run)") == len(manifests)
    finally:
        for ns in watched:
            core.delete_namespace(ns)


def test_metrics_a_service_for_the_operator_a_service_monitor_for_both_and_the_board() -> None:
    default = docs(render(4, "default"))
    (op,) = _kinds(default, "Deployment")["/r-kubetask-operator"]["spec"]["template"]["spec"]["containers"]
    assert _env(_kinds(default, "Deployment")["/r-kubetask-operator"])["KUBETASK_OPERATOR_METRICS_PORT"] == "9464"
    assert {"name": "metrics", "containerPort": 9464, "protocol": "TCP"} in op["ports"]
    services = _kinds(default, "Service")
    metrics = services["/r-kubetask-operator-metrics"]["spec"]
    assert metrics["selector"]["app.kubernetes.io/component"] == "operator"
    assert metrics["ports"] == [{"name": "metrics", "port": 9464, "targetPort": "metrics", "protocol": "TCP"}]
    assert not _kinds(default, "ServiceMonitor") and not _kinds(default, "ConfigMap")  # both off by default

    prod = docs(render(4, "postgresql"))
    (monitor,) = _kinds(prod, "ServiceMonitor").values()
    assert (
        monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["metadata"]["labels"]["release"] == "prometheus"
    )
    spec = monitor["spec"]
    selected = [
        s
        for s in _kinds(prod, "Service").values()
        if spec["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert sorted(s["metadata"]["name"] for s in selected) == ["r-kubetask-api", "r-kubetask-operator-metrics"]
    ports = {p["name"] for s in selected for p in s["spec"]["ports"]}
    assert {e["port"] for e in spec["endpoints"]} == ports == {"metrics", "http"}
    assert {e["path"] for e in spec["endpoints"]} == {"/metrics"}
    assert spec["namespaceSelector"] == {"matchNames": ["kubetask"]}
    (board,) = _kinds(prod, "ConfigMap").values()
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["kubetask.json"]) == json.loads((CHART / "dashboards/kubetask.json").read_text())
    (policy,) = [p for p in _kinds(prod, "NetworkPolicy").values() if p["metadata"]["name"].endswith("-operator")]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}] and rule["from"][0]["namespaceSelector"]

    off = docs(render(4, "default", extra="metrics.enabled=false"))
    assert "KUBETASK_OPERATOR_METRICS_PORT" not in _env(_kinds(off, "Deployment")["/r-kubetask-operator"])
    assert "/r-kubetask-operator-metrics" not in _kinds(off, "Service")
