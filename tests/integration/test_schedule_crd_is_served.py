"""The apiserver serves the generated TaskSchedule CRD: stored unpruned, status kept, columns shown,
out-of-range policies refused. The session's operator may act on these schedules meanwhile, so a
status written here is checked through a dry run (the object as it would be stored), and the columns
are read from the status the operator writes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from kubetask.models import GROUP, VERSION
from kubetask.testing.cluster import Cluster, OperatorProcess, create, template, wait_for
from tests.unit.builders import SCHEDULE_SPEC, SCHEDULE_STATUS

_FIELD = re.compile(r"^   (\S+)\t<(.*)>$")  # a field line of `kubectl explain`: name, tab, <type>


def _schedule(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TaskSchedule", "metadata": {"name": name}, "spec": spec}


def test_a_schedule_is_stored_unpruned_and_its_status_kept(cluster: Cluster, namespace: str) -> None:
    created = create(cluster, namespace, "taskschedules", _schedule("nightly", **SCHEDULE_SPEC))
    assert created["spec"] == SCHEDULE_SPEC
    # a PUT of the status subresource (the whole status as the model writes it), as a dry run: the
    # answer is the object as the apiserver would store it, pruning included
    custom = cluster.custom()
    for _ in range(5):  # a write of the operator's in between makes the PUT's resourceVersion stale (409)
        current = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "taskschedules", "nightly")
        try:
            stored = custom.replace_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                "taskschedules",
                "nightly",
                {**current, "status": SCHEDULE_STATUS},
                dry_run="All",
            )
            break
        except ApiException as e:
            if e.status != 409:
                raise
    assert (stored["spec"], stored["status"]) == (SCHEDULE_SPEC, SCHEDULE_STATUS)


def test_kubectl_lists_schedules_with_their_columns_short_name_and_category(
    cluster: Cluster, operator: OperatorProcess, namespace: str
) -> None:
    del operator  # writes the status the columns show
    create(cluster, namespace, "tasktemplates", template("report", image="busybox"))
    spec = {**SCHEDULE_SPEC, "suspend": False, "task": {"templateRef": {"name": "report"}}}
    create(cluster, namespace, "taskschedules", _schedule("nightly", **spec))

    def written() -> str | None:
        out = cluster.kubectl("get", "kts", "-n", namespace).stdout
        return out if out.split()[-2:-1] == ["0"] else None

    header, row = wait_for("the operator's status of the schedule", written).splitlines()
    assert header.split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPENDED", "LAST", "NEXT", "ACTIVE", "AGE"]
    # the schedule's own spaces split it into five cells here; LAST is blank (no run yet), NEXT the time
    cells = row.split()
    assert cells[:7] == ["nightly", "H", "2", "*", "*", "*", "Europe/Berlin"], row
    assert cells[7] == "false" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z", cells[8]), row
    assert cells[9] == "0", row
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
