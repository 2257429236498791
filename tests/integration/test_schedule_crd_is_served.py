"""The apiserver serves the generated TaskSchedule CRD: stored unpruned, status kept, columns shown,
out-of-range policies refused. (No controller acts on schedules yet; this pins the API type.)"""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from kubetask.models import GROUP, VERSION
from kubetask.testing.cluster import Cluster, create
from tests.unit.builders import SCHEDULE_SPEC, SCHEDULE_STATUS

_FIELD = re.compile(r"^   (\S+)\t<(.*)>$")  # a field line of `kubectl explain`: name, tab, <type>


def _schedule(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskSchedule", "metadata": {"name": name}, "spec": spec}


def _write_status(cluster: Cluster, namespace: str, obj: dict[str, Any]) -> None:
    # a PUT of the status subresource: the whole status as the model writes it, no patch semantics
    name = obj["metadata"]["name"]
    cluster.custom().replace_namespaced_custom_object_status(
        GROUP, VERSION, namespace, "taskschedules", name, {**obj, "status": SCHEDULE_STATUS}
    )


def test_a_schedule_is_stored_unpruned_and_its_status_kept(cluster: Cluster, namespace: str) -> None:
    created = create(cluster, namespace, "taskschedules", _schedule("nightly", **SCHEDULE_SPEC))
    assert created["spec"] == SCHEDULE_SPEC
    _write_status(cluster, namespace, created)
    read = cluster.custom().get_namespaced_custom_object(GROUP, VERSION, namespace, "taskschedules", "nightly")
    assert (read["spec"], read["status"]) == (SCHEDULE_SPEC, SCHEDULE_STATUS)


def test_kubectl_lists_schedules_with_their_columns_short_name_and_category(cluster: Cluster, namespace: str) -> None:
    created = create(cluster, namespace, "taskschedules", _schedule("nightly", **SCHEDULE_SPEC))
    _write_status(cluster, namespace, created)
    header, row = cluster.kubectl("get", "kts", "-n", namespace).stdout.splitlines()
    assert header.split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPENDED", "LAST", "NEXT", "ACTIVE", "AGE"]
    # the schedule's own spaces split it into five cells here; LAST and NEXT are ages (e.g. 37d)
    cells = row.split()
    assert cells[:7] == ["nightly", "H", "2", "*", "*", "*", "Europe/Berlin"], row
    assert cells[7] == "true" and cells[10] == "1", row
    assert (
        "taskschedule.kubetask.io/nightly" in cluster.kubectl("get", "kubetask", "-n", namespace, "-o", "name").stdout
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"concurrencyPolicy": "Sometimes"}, "spec.concurrencyPolicy"),
        ({"missedRunPolicy": "RunSome"}, "spec.missedRunPolicy"),
        ({"maxMissedRuns": 101}, "spec.maxMissedRuns"),
        ({"jitterSeconds": -1}, "spec.jitterSeconds"),
        ({"startingDeadlineSeconds": 0}, "spec.startingDeadlineSeconds"),
        ({"task": {"params": {}}}, "spec.task.templateRef"),
    ],
)
def test_the_apiserver_refuses_out_of_range_policies_naming_the_field(
    cluster: Cluster, namespace: str, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiException) as e:
        create(cluster, namespace, "taskschedules", _schedule("bad", **{**SCHEDULE_SPEC, **change}))
    assert e.value.status == 422
    assert re.search(re.escape(field) + r"\b", str(e.value.body)), e.value.body


def test_kubectl_explain_types_every_schedule_field_but_params(cluster: Cluster) -> None:
    for what, untyped in (("taskschedule.spec", set()), ("taskschedule.spec.task", {"params"})):
        out = cluster.kubectl("explain", what).stdout
        fields = {m[1]: m[2] for line in out.splitlines() if (m := _FIELD.match(line))}
        assert len(fields) >= 3, out
        assert {name for name, kind in fields.items() if not kind} == untyped, out
    assert "<[]Object>" in cluster.kubectl("explain", "taskschedule.status").stdout
