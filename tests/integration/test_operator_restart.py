"""A crashed operator re-derives everything from the cluster: the task finishes once, one Job.

"Once" is counted by the apiserver's audit log (creates per Job name, pods per Job), not by
listing Jobs: names are unique, so a listing never shows a Job deleted and created again.
The session operator runs at the default sweep period (600 s): only events and the start-up
resync can finish these tasks in time.
"""

from __future__ import annotations

from collections import Counter

import pytest

from kubetask.testing.cluster import (
    Cluster,
    OperatorProcess,
    create,
    get_task,
    task,
    template,
    wait_for,
    wait_task,
)

pytestmark = pytest.mark.own_cluster  # kills the session operator

OPERATOR = "kubetask-operator/"  # the start of every operator replica's User-Agent


def _job_creates(cluster: Cluster, namespace: str, since: int = 0) -> list[tuple[str, int]]:
    """(Job name, answer) of every Job create in `namespace`, by anyone, in order."""
    cluster.audit_sync()
    creates = cluster.audit().requests(since=since, verb="create", resource="jobs", namespace=namespace)
    return [(r.name, r.code) for r in creates]


def _pods_created_per_job(cluster: Cluster, namespace: str) -> Counter[str | None]:
    # subresource "": the pod itself, not the scheduler's binding (also a create on pods)
    creates = cluster.audit().requests(verb="create", resource="pods", subresource="", namespace=namespace, code=201)
    return Counter(r.label("job-name") for r in creates)


def _job_deletes(cluster: Cluster, namespace: str) -> list[str]:
    return [r.name for r in cluster.audit().requests(verb="delete", resource="jobs", namespace=namespace)]


def test_sigkill_while_running_then_restart_finishes_once_with_one_job(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    create(cluster, namespace, "tasktemplates", template("sleep", handler="sleep"))
    create(
        cluster,
        namespace,
        "tasks",
        task("nap", templateRef={"name": "sleep"}, params={"seconds": 6, "result": {"rested": True}}),
    )
    wait_task(cluster, namespace, "nap", {"Running"})

    operator.kill()
    operator.start()

    st = wait_task(cluster, namespace, "nap")["status"]
    assert (st["phase"], st["result"]) == ("Succeeded", {"rested": True})
    assert [a["jobName"] for a in st["attempts"]] == ["nap-1"]
    assert [j.metadata.name for j in cluster.batch().list_namespaced_job(namespace).items] == ["nap-1"]
    assert _job_creates(cluster, namespace) == [("nap-1", 201)]
    assert (_job_deletes(cluster, namespace), _pods_created_per_job(cluster, namespace)) == ([], {"nap-1": 1})


def test_a_job_its_status_does_not_name_is_adopted_never_made_again(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    """A Job exists but the Task's status names no attempt: a kill between the Job's create and the
    status write leaves that, and so does a Task restored from a backup (no status). After a restart
    the resync finds the Job in its listing; a running operator tries the name, gets 409 and adopts
    it. Either way the attempt keeps its one Job and its one pod."""
    create(cluster, namespace, "tasktemplates", template("sleep", handler="sleep"))
    lost = task("lost", templateRef={"name": "sleep"}, params={"seconds": 15, "result": {"kept": True}})
    create(cluster, namespace, "tasks", lost)
    wait_task(cluster, namespace, "lost", {"Running"})

    def erase_status() -> int:
        """Erase it; returns the audit log's end from before, so the operator's answer comes after it."""
        mark = cluster.audit().mark()
        cluster.kubectl(
            "patch", "task", "lost", "-n", namespace, "--subresource=status", "--type=merge", "-p", '{"status": null}'
        )
        return mark

    def names_its_job() -> bool:
        return [
            a["jobName"] for a in (get_task(cluster, namespace, "lost").get("status") or {}).get("attempts", [])
        ] == ["lost-1"]

    operator.kill()
    after_restart = erase_status()
    assert operator.start_and_resync(60), "no resync after the restart"
    wait_for("the restarted operator names the Job again", names_its_job)
    assert _job_creates(cluster, namespace, since=after_restart) == []  # the listing showed it

    live = erase_status()
    wait_for("the running operator names the Job again", names_its_job)
    assert _job_creates(cluster, namespace, since=live) == [("lost-1", 409)]  # tried the name, adopted

    st = wait_task(cluster, namespace, "lost")["status"]
    assert (st["phase"], st["result"]) == ("Succeeded", {"kept": True})
    assert [n for n, code in _job_creates(cluster, namespace) if code == 201] == ["lost-1"]
    assert (_job_deletes(cluster, namespace), _pods_created_per_job(cluster, namespace)) == ([], {"lost-1": 1})


def test_task_created_while_operator_is_down_runs_when_it_returns(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    operator.kill()
    create(cluster, namespace, "tasks", task("queued", templateRef={"name": "echo"}, params={"n": 7}))

    operator.start()

    st = wait_task(cluster, namespace, "queued")["status"]
    assert (st["phase"], st["result"], st["attemptCount"]) == ("Succeeded", {"n": 7}, 1)
    assert _job_creates(cluster, namespace) == [("queued-1", 201)]
    creators = {r.user_agent for r in cluster.audit().requests(verb="create", resource="jobs", namespace=namespace)}
    assert len(creators) == 1 and next(iter(creators)).startswith(OPERATOR)
    assert _pods_created_per_job(cluster, namespace) == {"queued-1": 1}
