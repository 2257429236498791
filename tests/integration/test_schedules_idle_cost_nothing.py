"""An idle schedule costs the apiserver nothing: no polling, no timers, no reads between instants.

100 schedules whose next instant is months away, next to one that fires every 10 s: in a window of
20 s the operator reads no TaskSchedule at all (GET or LIST, from the apiserver's audit log) and
touches none of the idle ones; the busy one's passes list no Tasks either (its runs are in the
operator's run index, kept from Task events).
"""

from __future__ import annotations

import time
from typing import Any

from kubetask.models import GROUP, VERSION
from kubetask.testing.cluster import Cluster, OperatorProcess, create, list_objects, template, wait_for

OPERATOR = "kubetask-operator/"  # the start of every operator replica's User-Agent
IDLE = 100


def _schedule(name: str, schedule: str) -> dict[str, Any]:
    spec = {"schedule": schedule, "task": {"templateRef": {"name": "nap"}, "params": {"seconds": 0}}}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskSchedule", "metadata": {"name": name}, "spec": spec}


def test_the_operator_reads_no_schedule_between_instants(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    del operator
    create(cluster, namespace, "tasktemplates", template("nap", handler="sleep"))
    for i in range(IDLE):
        create(cluster, namespace, "taskschedules", _schedule(f"idle-{i:03}", "0 0 1 1 *"))
    create(cluster, namespace, "taskschedules", _schedule("busy", "*/10 * * * * *"))

    def all_passed() -> bool:
        items = list_objects(cluster, namespace, "taskschedules")
        return len(items) == IDLE + 1 and all((s.get("status") or {}).get("nextRunTimes") for s in items)

    wait_for("a first pass over every schedule", all_passed, timeout=120)
    cluster.audit_sync()
    audit = cluster.audit()
    mark = audit.mark()
    time.sleep(20)  # two instants of `busy`, none of the others
    cluster.audit_sync()
    ours = audit.requests(since=mark, user_agent=OPERATOR)
    schedule_reads = [r for r in ours if r.resource == "taskschedules" and r.verb in ("get", "list")]
    ours = [r for r in ours if r.namespace == namespace]  # (earlier tests' schedules may still be going)
    assert schedule_reads == [], schedule_reads
    touched = {r.name for r in ours if r.resource == "taskschedules"}
    assert touched <= {"busy"}, touched
    assert "busy" in touched  # its instants were passed over: the window saw the controller at work
    runs = [r for r in ours if r.resource == "tasks" and r.verb == "create"]
    assert 1 <= len(runs) <= 3, runs
    # nor list Tasks: the busy schedule's passes read its runs from the run index (its first pass,
    # before the window, listed them once); the Task reconciler lists none either (it GETs a run
    # Task when the run's Job or pod changes)
    task_lists = [r for r in ours if r.resource == "tasks" and r.verb == "list"]
    assert task_lists == [], task_lists
