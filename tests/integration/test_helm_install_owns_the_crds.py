"""`helm install`, `upgrade` and `uninstall` on a control plane of the test's own, in which the chart
owns the CRDs (the suite's cluster installs crds/ before its controller-manager starts, and Helm
refuses to adopt objects it did not create).

No node and no images here: the operator's and the API's pods stay Pending. What is shown is the
CRDs' life with the release: installed by it, updated by an upgrade (a field added to the schema is
served afterwards), and kept with the Tasks on uninstall (helm.sh/resource-policy: keep).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from kubetask.models import GROUP, VERSION
from kubetask.testing.cluster import Cluster, control_plane, create, task, template, wait_namespace_ready
from kubetask.testing.helm import helm_binary

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kubetask"
TEMPLATES_CRD = "tasktemplates.kubetask.io"


@pytest.fixture
def own_control_plane(tmp_path: Path) -> Iterator[Cluster]:
    no_crds = tmp_path / "no-crds"
    no_crds.mkdir()
    with control_plane(tmp_path / "cp", no_crds) as cluster:
        yield cluster


def _helm(cluster: Cluster, *args: str) -> str:
    r = subprocess.run(
        [str(helm_binary(4)), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def _older_chart(tmp_path: Path) -> Path:
    """The chart as it was before TaskTemplate's `relax` field: a copy with the field taken out of its CRD."""
    old = tmp_path / "kubetask-old"
    shutil.copytree(CHART, old, symlinks=False)
    path = old / "files" / "crds" / "kubetask.io_tasktemplates.yaml"
    crd = yaml.safe_load(path.read_text())
    del crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["relax"]
    path.write_text(yaml.safe_dump(crd, sort_keys=False))
    return old


def _crds(cluster: Cluster) -> Any:
    return client.ApiextensionsV1Api(cluster.api())


def _spec_fields(cluster: Cluster) -> set[str]:
    crd = _crds(cluster).read_custom_resource_definition(TEMPLATES_CRD)
    return set(crd.spec.versions[0].schema.open_apiv3_schema.properties["spec"].properties)


def _deployments(cluster: Cluster, ns: str) -> list[Any]:
    items: list[Any] = client.AppsV1Api(cluster.api()).list_namespaced_deployment(ns).items
    return items


def test_the_release_installs_upgrades_and_keeps_the_crds(own_control_plane: Cluster, tmp_path: Path) -> None:
    cluster = own_control_plane
    _helm(cluster, "install", "kt", str(_older_chart(tmp_path)), "-n", "kubetask", "--create-namespace")
    crds = {c.metadata.name: c for c in _crds(cluster).list_custom_resource_definition().items}
    assert set(crds) == {f"{p}.{GROUP}" for p in ("tasks", "tasktemplates", "taskschedules")}
    for c in crds.values():
        assert c.metadata.annotations["meta.helm.sh/release-name"] == "kt"
        assert c.metadata.annotations["helm.sh/resource-policy"] == "keep"
    assert "relax" not in _spec_fields(cluster)

    core = cluster.core()
    core.create_namespace({"metadata": {"name": "work"}})
    wait_namespace_ready(core, "work")
    create(cluster, "work", "tasktemplates", template("echo", handler="echo"))
    made = create(cluster, "work", "tasks", task("kept", templateRef={"name": "echo"}, params={}))

    _helm(cluster, "upgrade", "kt", str(CHART), "-n", "kubetask", "--set", "operator.workers=4")
    assert "relax" in _spec_fields(cluster)  # the upgrade updated the CRD
    relaxed = template("relaxed", handler="echo", relax=["RunAsRoot"])
    assert create(cluster, "work", "tasktemplates", relaxed)["spec"]["relax"] == ["RunAsRoot"]  # not pruned
    (operator,) = [d for d in _deployments(cluster, "kubetask") if d.metadata.name.endswith("operator")]
    env = {e.name: e.value for e in operator.spec.template.spec.containers[0].env}
    assert env["KUBETASK_OPERATOR_WORKERS"] == "4"

    _helm(cluster, "uninstall", "kt", "-n", "kubetask")
    assert _deployments(cluster, "kubetask") == []
    left = {c.metadata.name for c in _crds(cluster).list_custom_resource_definition().items}
    assert left == set(crds)
    still = cluster.custom().get_namespaced_custom_object(GROUP, VERSION, "work", "tasks", "kept")
    assert still["metadata"]["uid"] == made["metadata"]["uid"]
