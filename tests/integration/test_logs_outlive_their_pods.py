"""Each ended attempt's log is kept in SQL, capped to its head and tail, before its pod may go.

The pods carry the `kubetask.io/log` finalizer (copied by the Job controller from the Job's
template), so deleting the Task, hence its Job and pod, does not lose the log; the log is read
from the real kubelet through the apiserver's pods/log, and checked here from the mirror's rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from kubetask.jobs import LOG_FINALIZER
from kubetask.store import make_engine
from kubetask.store.logs import KeptLog, kept_log
from kubetask.testing.cluster import Cluster, OperatorProcess, create, python_spec, task, wait_for, wait_task
from kubetask.testing.postgres import PostgresServer


def _kept(operator: OperatorProcess, ns: str, name: str, attempt: int = 1) -> KeptLog | None:
    engine = make_engine(operator.database_url)
    try:
        with Session(engine) as s:
            return kept_log(s, ns, name, attempt)
    except Exception:  # the mirror's schema may not be there yet, or the database is down
        return None
    finally:
        engine.dispose()


def _pods(cluster: Cluster, ns: str) -> list[Any]:
    return list(cluster.core().list_namespaced_pod(ns).items)


def test_a_finished_attempts_log_is_read_from_sql_after_its_task_job_and_pod_are_deleted(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    code = "import sys\nfor i in range(3): print(f'line {i}', flush=True)\nprint('to stderr', file=sys.stderr)"
    create(cluster, namespace, "tasks", task("talk", **python_spec(code)))
    assert wait_task(cluster, namespace, "talk")["status"]["phase"] == "Succeeded"
    pods = cluster.core().list_namespaced_pod(namespace).items
    assert [p.metadata.finalizers for p in pods] in ([[LOG_FINALIZER]], [None])  # None: kept and released already

    kept = wait_for("the log kept", lambda: _kept(operator, namespace, "talk"), timeout=60)
    cluster.kubectl("delete", "task", "talk", "-n", namespace)
    wait_for(
        "Job and pod gone",
        lambda: not cluster.batch().list_namespaced_job(namespace).items and not _pods(cluster, namespace),
        timeout=60,
    )
    again = _kept(operator, namespace, "talk")
    assert again == kept
    lines = kept.text.splitlines()
    assert [ln for ln in lines if ln.startswith("line ")] == ["line 0", "line 1", "line 2"]
    assert "to stderr" in lines
    assert not kept.cut and kept.total_bytes == len(kept.text.encode())


def _numbered_kib_lines(count: int, fill: str) -> str:
    """Python code printing `count` lines of 1 KiB: an 8-digit number, `fill` repeated, newline."""
    return (
        "import sys\nw = sys.stdout.write\n"
        f"for i in range({count}): w(f'{{i:08d}}' + {fill!r} * 1015 + '\\n')\n"
        "sys.stdout.flush()"
    )


def test_a_5_mib_log_keeps_its_head_and_tail_with_the_marker_between(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    # 5 MiB in lines of 1 KiB, each numbered; under the kubelet's 10 MiB rotation size
    code = _numbered_kib_lines(5 * 1024, "x")
    create(cluster, namespace, "tasks", task("loud", **python_spec(code)))
    assert wait_task(cluster, namespace, "loud", timeout=120)["status"]["phase"] == "Succeeded"
    kept = wait_for("the log kept", lambda: _kept(operator, namespace, "loud"), timeout=90)
    assert kept.total_bytes == 5 * 1024 * 1024 and kept.cut
    assert kept.head.startswith("00000000xxx") and len(kept.head) == 64 * 1024
    assert kept.tail.endswith("00005119" + "x" * 1015 + "\n") and len(kept.tail) == 1024 * 1024
    assert "\n[kubetask: 3.9 MiB cut here; the log was 5.0 MiB]\n" in kept.text
    assert kept.text.startswith(kept.head) and kept.text.endswith(kept.tail)
    wait_for("the finalizer removed", lambda: all(not p.metadata.finalizers for p in _pods(cluster, namespace)))


@pytest.fixture
def own_postgres(operator: OperatorProcess) -> Iterator[PostgresServer]:
    before = operator.database_url
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        operator.use_database(before)
        server.destroy()


def test_with_postgresql_down_the_pod_waits_and_goes_once_its_log_is_kept(
    cluster: Cluster, operator: OperatorProcess, own_postgres: PostgresServer, namespace: str
) -> None:
    operator.use_database(own_postgres.new_database())
    code = "import time\nprint('before the outage', flush=True)\ntime.sleep(8)\nprint('after it', flush=True)"
    create(cluster, namespace, "tasks", task("patient", **python_spec(code)))
    wait_task(cluster, namespace, "patient", {"Running"})
    own_postgres.stop()
    assert wait_task(cluster, namespace, "patient")["status"]["phase"] == "Succeeded"
    cluster.kubectl("delete", "task", "patient", "-n", namespace, "--wait=false")
    wait_for(
        "the pod being deleted",
        lambda: [p.metadata.deletion_timestamp is not None for p in _pods(cluster, namespace)] == [True],
    )
    # held by the finalizer while the log cannot be written (looked at for a while: it must not go)
    for _ in range(10):
        pods = _pods(cluster, namespace)
        assert len(pods) == 1 and pods[0].metadata.finalizers == [LOG_FINALIZER]
        time.sleep(1)

    own_postgres.start()
    # the garbage collector deletes the Job, then its pod; the pod's grace period (30 s) runs; the
    # operator keeps the log and lets it go: generous on a busy node, and on a timeout say what is left
    try:
        wait_for("the pod gone", lambda: not _pods(cluster, namespace), timeout=180, interval=1)
    except AssertionError:
        jobs = [j.metadata.name for j in cluster.batch().list_namespaced_job(namespace).items]
        left = [
            (p.metadata.name, p.metadata.deletion_timestamp, p.metadata.finalizers) for p in _pods(cluster, namespace)
        ]
        raise AssertionError(f"pod not gone 180 s after its Task's delete: jobs {jobs}, pods {left}") from None
    kept = _kept(operator, namespace, "patient")
    assert kept is not None
    assert kept.text == "before the outage\nafter it\n"


def test_a_task_deleted_while_its_attempt_runs_keeps_the_log_printed_until_then(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    code = "import time\nprint('started', flush=True)\ntime.sleep(300)"
    create(cluster, namespace, "tasks", task("doomed", **python_spec(code)))
    wait_task(cluster, namespace, "doomed", {"Running"})
    wait_for(
        "the first line printed",
        lambda: "started" in cluster.kubectl("logs", "-n", namespace, "job/doomed-1", check=False).stdout,
    )
    cluster.kubectl("delete", "task", "doomed", "-n", namespace, "--wait=false")
    # the garbage collector deletes the Job, then its pod; the pod's grace period (30 s) runs; the
    # operator keeps the log and lets it go: generous on a busy node, and on a timeout say what is left
    try:
        wait_for("the pod gone", lambda: not _pods(cluster, namespace), timeout=180, interval=1)
    except AssertionError:
        jobs = [j.metadata.name for j in cluster.batch().list_namespaced_job(namespace).items]
        left = [
            (p.metadata.name, p.metadata.deletion_timestamp, p.metadata.finalizers) for p in _pods(cluster, namespace)
        ]
        raise AssertionError(f"pod not gone 180 s after its Task's delete: jobs {jobs}, pods {left}") from None
    kept = wait_for("the log kept", lambda: _kept(operator, namespace, "doomed"), timeout=30)
    assert kept.text == "started\n"


def test_a_log_above_the_kubelets_default_rotation_size_keeps_its_true_head(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    # 12 MiB: past the 1.20 kubelet's default rotation (10 MiB), under the local cluster's 100 MiB
    code = _numbered_kib_lines(12 * 1024, "y")
    create(cluster, namespace, "tasks", task("louder", **python_spec(code)))
    assert wait_task(cluster, namespace, "louder", timeout=120)["status"]["phase"] == "Succeeded"
    kept = wait_for("the log kept", lambda: _kept(operator, namespace, "louder"), timeout=90)
    assert kept.total_bytes == 12 * 1024 * 1024 and kept.cut
    assert kept.head.startswith("00000000yyy")
    assert kept.tail.endswith("00012287" + "y" * 1015 + "\n")


def test_a_database_down_past_the_bound_lets_the_pod_go_and_says_the_log_was_lost(
    cluster: Cluster, operator: OperatorProcess, own_postgres: PostgresServer, namespace: str, tmp_path: Path
) -> None:
    operator.stop()
    bound = {"KUBETASK_OPERATOR_LOG_KEEP_WAIT_SECONDS": "5"}
    ours = OperatorProcess(cluster, tmp_path / "operator.log", own_postgres.new_database(), env=bound)
    ours.start()
    try:
        code = "import time\nprint('lost', flush=True)\ntime.sleep(6)"
        create(cluster, namespace, "tasks", task("unlucky", **python_spec(code)))
        wait_task(cluster, namespace, "unlucky", {"Running"})
        own_postgres.stop()
        assert wait_task(cluster, namespace, "unlucky")["status"]["phase"] == "Succeeded"
        wait_for(
            "the finalizer removed with the database still down",
            lambda: [p.metadata.finalizers for p in _pods(cluster, namespace)] == [None],
            timeout=60,
        )
        assert f"log of {namespace}/unlucky attempt 1 NOT kept" in ours.output()
    finally:
        ours.stop()
        operator.start()
