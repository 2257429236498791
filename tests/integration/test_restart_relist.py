"""An operator restarted with many active Tasks re-derives them from one listing of Tasks, Jobs and
pods: nothing is rewritten or re-created, and the number of Job LISTs does not grow with the number
of Tasks (before, every Task cost two label-selected LISTs, twice: once for kopf's re-listed event
and once for the resync). "Nothing rewritten" is read from the apiserver's audit log: every status
write and Job create after the kill, not two snapshots that a late write could fall between."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from kubetask.testing.audit import WRITE_VERBS
from kubetask.testing.cluster import (
    Cluster,
    OperatorProcess,
    create,
    dedicated_operator,
    get_task,
    list_objects,
    python_spec,
    task,
    template,
    wait_for,
)

N = 40
# pods that can never be scheduled keep every Task active (Pending, with its Job) for the whole test
SPEC = python_spec("1", resources={"requests": {"cpu": "64"}})


def _snapshot(cluster: Cluster, namespace: str) -> dict[str, tuple[str, str, int, str]]:
    """Task name -> (resourceVersion, phase, attempts, uid of its attempt-1 Job or "") for Tasks with an attempt."""
    items = list_objects(cluster, namespace, "tasks")
    jobs = {j.metadata.name: j.metadata.uid for j in cluster.batch().list_namespaced_job(namespace).items}
    out = {}
    for t in items:
        name, st = t["metadata"]["name"], t.get("status") or {}
        if st.get("attempts"):
            out[name] = (t["metadata"]["resourceVersion"], st["phase"], len(st["attempts"]), jobs.get(f"{name}-1", ""))
    return out


@pytest.fixture
def own_operator(cluster: Cluster, operator: OperatorProcess, tmp_path: Path) -> Iterator[OperatorProcess]:
    with dedicated_operator(operator, cluster, tmp_path / "op.log") as op:
        yield op


def test_restart_relists_without_per_task_reads_or_rewrites(
    cluster: Cluster, own_operator: OperatorProcess, namespace: str
) -> None:
    for i in range(N):
        create(cluster, namespace, "tasks", task(f"t{i}", **SPEC))

    def dispatched(n: int) -> dict[str, tuple[str, str, int, str]] | None:
        got = _snapshot(cluster, namespace)
        return got if len(got) == n and all(uid for *_, uid in got.values()) else None

    before = wait_for("every Task has its Job", lambda: dispatched(N), timeout=120)
    own_operator.kill()
    mark = cluster.audit().mark()  # the killed process writes nothing more: what follows is the new one's
    assert own_operator.start_and_resync(60), "no resync after the restart"
    create(cluster, namespace, "tasks", task("after-restart", **SPEC))  # events flow again after the resync
    after = wait_for("the new Task dispatched too", lambda: dispatched(N + 1), timeout=60)

    cluster.audit_sync()
    audit = cluster.audit()
    writes = audit.requests(since=mark, namespace=namespace, verb=WRITE_VERBS, user_agent="kubetask-operator/")
    status_writes = [r for r in writes if (r.resource, r.subresource) == ("tasks", "status")]
    assert {r.name for r in status_writes} == {"after-restart"}, "the restart rewrote a Task it had decided"
    job_writes = [r for r in writes if r.resource == "jobs"]
    assert [(r.verb, r.name, r.code) for r in job_writes] == [("create", "after-restart-1", 201)]
    assert {k: after[k][1:] for k in before} == {k: v[1:] for k, v in before.items()}  # still Pending, same Job
    assert len(cluster.batch().list_namespaced_job(namespace).items) == N + 1
    # the operator's own Job LISTs, by its User-Agent in the audit log (the controllers list Jobs too,
    # e.g. the namespace controller, again and again, while an earlier test's namespace terminates):
    # the resync's one cluster-wide listing, not 2 per Task
    # (the new Task's own reads after its first attempt, selected by its uid, are not the restart's)
    new_uid = get_task(cluster, namespace, "after-restart")["metadata"]["uid"]
    lists = audit.requests(since=mark, verb="list", resource="jobs", user_agent="kubetask-operator/")
    lists = [r for r in lists if new_uid not in unquote(r.uri)]
    assert len(lists) <= 2, f"{len(lists)} Job LISTs for a restart with {N} active Tasks: {[r.uri for r in lists]}"
    assert "Traceback" not in own_operator.output()


def test_tasks_waiting_for_a_template_start_when_it_appears_after_a_restart(
    cluster: Cluster, own_operator: OperatorProcess, namespace: str
) -> None:
    """Waiting Tasks are remembered in memory, not found by listing every Task on a template event:
    the start-up resync must rebuild that memory."""
    for i in range(3):
        create(cluster, namespace, "tasks", task(f"w{i}", templateRef={"name": "later"}))

    def reasons() -> set[str]:
        return {(t.get("status") or {}).get("reason", "") for t in list_objects(cluster, namespace, "tasks")}

    wait_for("all waiting for the template", lambda: reasons() == {"TemplateNotFound"}, timeout=60)
    own_operator.kill()
    assert own_operator.start_and_resync(60), "no resync after the restart"
    create(cluster, namespace, "tasktemplates", template("later", handler="echo"))
    wait_for(
        "every waiting Task got its Job",
        lambda: len(cluster.batch().list_namespaced_job(namespace).items) == 3,
        timeout=60,
    )
