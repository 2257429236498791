"""Root fixtures: the local Kubernetes cluster (once per run), a namespace per test, the operator.

Tests under tests/integration are marked `cluster` automatically; `-m "not cluster"` runs the
fast suite alone. The cluster is real (scripts/cluster/cluster.sh): etcd, kube-apiserver,
controller-manager, scheduler and a kubelet with containerd; executors run in real containers.

`slow` and `own_cluster` (skipped by `make test-fast`) are given here from the fixtures a test
requests, directly or through other fixtures, so test files need no marker of their own: a fixture
that takes the cluster or the session operator for its test is named `own_*` or `dedicated_*` or
listed in OWN_CLUSTER_FIXTURES. A test that does so in its body (kills the session operator, say)
carries `pytestmark = pytest.mark.own_cluster` instead.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubetask.testing.cluster import Cluster, OperatorProcess, wait_namespace_ready
from kubetask.testing.pod_profile import task_pod_problems
from kubetask.testing.ports import free_port
from kubetask.testing.postgres import PostgresServer, throwaway_postgres

ROOT = Path(__file__).resolve().parents[1]

# Fixtures that stop the session operator, run replicas or an operator of their own, restart the
# apiserver or stop a database: their tests cannot share the cluster with a fast run.
OWN_CLUSTER_FIXTURES = frozenset({"replicas", "chaos_operator", "own_operator", "own_postgres"})
OWN_CLUSTER_PREFIXES = ("own_", "dedicated_")
# Fixtures whose tests take minutes (the fault test: 200 Tasks through kills and restarts).
SLOW_FIXTURES = frozenset({"chaos_operator"})
# Unit tests are pure and take seconds; one that runs for many minutes is hung (a mutant's endless
# loop, say) and should fail before the global 600 s. 300 s, not less: the property tests took
# ~60 s at a load average of 22 here. A slow test (minutes by design, longer on a loaded machine)
# gets more than the global default unless it states its own.
UNIT_TIMEOUT_SECONDS = 300
SLOW_TIMEOUT_SECONDS = 1800


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if "/tests/integration/" in path:
            item.add_marker(pytest.mark.cluster)
        # the closure: fixtures requested through other fixtures count too
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & OWN_CLUSTER_FIXTURES or any(f.startswith(OWN_CLUSTER_PREFIXES) for f in fixtures):
            item.add_marker(pytest.mark.own_cluster)
        if fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("timeout") is None:
            if "/tests/unit/" in path:
                item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT_SECONDS))
            elif item.get_closest_marker("slow") is not None:
                item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_SECONDS))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A fresh single-node cluster with kubetask's CRDs and executor image, for the whole run."""
    images = subprocess.run(["bash", str(ROOT / "scripts/images.sh")], capture_output=True, text=True, timeout=900)
    if images.returncode:
        pytest.fail(f"building the executor image failed:\n{images.stderr[-3000:]}")
    d = tmp_path_factory.mktemp("k8s")
    env = {
        **os.environ,
        "KUBETASK_CRDS": str(ROOT / "crds"),
        "KUBETASK_NODE_IMAGES": images.stdout.strip().splitlines()[-1],
    }
    # `down` runs whenever `up` began: an `up` that failed, timed out or was interrupted (Ctrl-C in
    # set-up) has already started part of the cluster, and nothing else would ever stop it
    try:
        up = subprocess.run(
            ["bash", str(ROOT / "scripts/cluster/cluster.sh"), "up", str(d)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        if up.returncode:
            pytest.fail(f"cluster did not start:\n{up.stderr[-3000:]}")
        yield Cluster(dir=d, kubeconfig=Path(up.stdout.split()[-1]))
    finally:
        subprocess.run(
            ["bash", str(ROOT / "scripts/cluster/cluster.sh"), "down", str(d)],
            capture_output=True,
            timeout=120,
        )


@pytest.fixture(scope="session")
def operator(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """The kubetask operator as a subprocess, watching all namespaces, its metrics on a loopback port
    (`metrics_target`): the whole suite runs with them on."""
    d = tmp_path_factory.mktemp("operator")
    metrics = {"KUBETASK_OPERATOR_METRICS_PORT": str(free_port()), "KUBETASK_OPERATOR_METRICS_ADDRESS": "127.0.0.1"}
    op = OperatorProcess(cluster, log=d / "operator.log", database_url=f"sqlite:///{d / 'mirror.db'}", env=metrics)
    op.start()
    try:
        yield op
    finally:
        op.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards; the test fails if a task pod left in it breaks the
    lockdown beyond what its template relaxed (kubetask/testing/pod_profile.py: 1.20 has no Pod Security
    admission)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = cluster.core()
    core.create_namespace({"metadata": {"name": name}})
    wait_namespace_ready(core, name)
    try:
        yield name
        problems = task_pod_problems(cluster, name)
    finally:
        core.delete_namespace(name)
    if problems:
        pytest.fail("task pods break the restricted profile or the lockdown:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL 15 for the run; failing to start is a test failure, never a skip."""
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kubetask.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()
