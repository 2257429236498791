"""A Task listed just before its namespace began deleting: no Job, no status write, no traceback.

The operator decides from listings, so a Task can reach a decision after its namespace went into
Terminating; creating its Job then answers 403 NamespaceTerminating. A ConfigMap holding a finalizer
keeps the namespace Terminating for as long as the test needs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from kubetask.operator.kube import Apiserver, JobCreate
from kubetask.operator.reconciler import Reconciler
from kubetask.testing.cluster import Cluster, python_spec, task, wait_for, wait_namespace_ready

HOLD = "kubetask.io/test-hold"


@pytest.fixture
def terminating(cluster: Cluster) -> Iterator[str]:
    """A namespace in Terminating, held there by a finalizer until the test ends."""
    ns = f"t-{uuid.uuid4().hex[:8]}"
    core = cluster.core()
    core.create_namespace({"metadata": {"name": ns}})
    wait_namespace_ready(core, ns)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "hold", "finalizers": [HOLD]}})
    core.delete_namespace(ns)
    wait_for("namespace Terminating", lambda: core.read_namespace(ns).status.phase == "Terminating", timeout=30)
    try:
        yield ns
    finally:
        core.patch_namespaced_config_map("hold", ns, {"metadata": {"finalizers": None}})


def _listed_task(ns: str) -> dict[str, object]:
    """A Task body as a listing taken before the deletion would have delivered it."""
    body = task("late", **python_spec("print('never runs')"))
    body["metadata"] |= {"namespace": ns, "uid": str(uuid.uuid4()), "resourceVersion": "1", "generation": 1}
    return body


def test_create_job_reports_a_terminating_namespace(cluster: Cluster, terminating: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "late-1"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}},
    }
    assert Apiserver(cluster.api()).create_job(terminating, job, "uid") is JobCreate.NAMESPACE_TERMINATING


def test_reconcile_in_a_terminating_namespace_creates_nothing_and_raises_nothing(
    cluster: Cluster, terminating: str, caplog: pytest.LogCaptureFixture
) -> None:
    apiserver = Apiserver(cluster.api())
    reconciler = Reconciler(apiserver)
    caplog.set_level(logging.INFO, logger="kubetask.operator")

    reconciler.reconcile(terminating, "late", _listed_task(terminating))

    assert apiserver.write_counts() == {}, "no Job created and no status written"
    assert cluster.batch().list_namespaced_job(terminating).items == []
    assert any("is being deleted" in r.getMessage() for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records)
