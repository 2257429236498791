"""The operator's metrics from what the reconciler reports: phase transitions, finished Tasks by
template and result, failures by reason, durations, the dispatch wait of a first Job; the state
gauges read at scrape time (tasks by phase as the leader knows them, the mirror's backlog, Events);
and the apiserver requests named as the apiserver's own metrics name them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kubetask.kubeapi import request_kind
from kubetask.operator.metrics import INLINE_TEMPLATE, OperatorMetrics

T0 = "2026-12-03T10:00:00Z"


def _task(name: str, phase: str | None, *, template: str | None = "echo", **status: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"templateRef": {"name": template}} if template else {"image": "x", "command": ["true"]}
    body: dict[str, Any] = {
        "metadata": {"namespace": "ns1", "name": name, "uid": f"uid-{name}", "creationTimestamp": T0},
        "spec": spec,
    }
    if phase is not None:
        body["status"] = {"phase": phase, **status}
    return body


def _samples(m: OperatorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(m.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "/apis/kubetask.io/v1alpha1/namespaces/ns1/tasks", ("list", "tasks")),
        ("GET", "/apis/kubetask.io/v1alpha1/tasks?labelSelector=a", ("list", "tasks")),
        ("GET", "/apis/kubetask.io/v1alpha1/namespaces/ns1/tasks/t1", ("get", "tasks")),
        ("PATCH", "/apis/kubetask.io/v1alpha1/namespaces/ns1/tasks/t1/status", ("patch", "tasks/status")),
        ("POST", "/apis/batch/v1/namespaces/ns1/jobs", ("create", "jobs")),
        ("DELETE", "/apis/batch/v1/namespaces/ns1/jobs/j1", ("delete", "jobs")),
        ("DELETE", "/apis/batch/v1/namespaces/ns1/jobs", ("deletecollection", "jobs")),
        ("GET", "/api/v1/namespaces/ns1/pods/p1/log", ("get", "pods/log")),
        ("POST", "/api/v1/namespaces/ns1/events", ("create", "events")),
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/default/leases/kubetask-operator", ("update", "leases")),
        ("GET", "/api/v1/namespaces", ("list", "namespaces")),
        ("GET", "/api/v1/namespaces/ns1", ("get", "namespaces")),
    ],
)
def test_requests_are_named_by_verb_and_resource_never_by_object(method: str, path: str, kind: tuple[str, str]) -> None:
    assert request_kind(method, path) == kind


def test_a_finished_task_counts_once_by_template_result_reason_and_duration() -> None:
    m = OperatorMetrics()
    pending = _task("a", "Pending")
    running = _task("a", "Running", startTime=T0)
    failed = _task("a", "Failed", reason="Timeout", startTime=T0, completionTime="2026-12-03T10:00:30Z")
    m.written(_task("a", None), pending)
    m.written(pending, running)
    m.written(running, running)  # no phase change: nothing
    m.written(running, failed)
    m.written(failed, failed)
    inline = _task("b", "Succeeded", template=None, startTime=T0, completionTime="2026-12-03T10:00:01Z")
    m.written(_task("b", "Running", template=None), inline)
    s = _samples(m)
    t = "kubetask_task_phase_transitions_total"
    assert s[(t, (("from_phase", "None"), ("to_phase", "Pending")))] == 1
    assert s[(t, (("from_phase", "Running"), ("to_phase", "Failed")))] == 1
    assert s[(t, (("from_phase", "Running"), ("to_phase", "Succeeded")))] == 1
    f = "kubetask_tasks_finished_total"
    assert s[(f, (("namespace", "ns1"), ("result", "Failed"), ("template", "echo")))] == 1
    assert s[(f, (("namespace", "ns1"), ("result", "Succeeded"), ("template", INLINE_TEMPLATE)))] == 1
    assert s[("kubetask_task_failures_total", (("reason", "Timeout"),))] == 1
    d = "kubetask_task_duration_seconds"
    assert s[(d + "_sum", (("result", "Failed"), ("template", "echo")))] == 30
    assert s[(d + "_bucket", (("le", "30.0"), ("result", "Failed"), ("template", "echo")))] == 1
    assert s[(d + "_bucket", (("le", "10.0"), ("result", "Failed"), ("template", "echo")))] == 0


def test_the_dispatch_wait_is_from_creation_or_run_at_to_the_first_job_only() -> None:
    m = OperatorMetrics()
    m.job_created(_task("a", "Pending"), 1, datetime(2026, 12, 3, 10, 0, 2, tzinfo=UTC))
    later = _task("b", "Scheduled")
    later["spec"]["runAt"] = "2026-12-03T10:05:00Z"
    m.job_created(later, 1, datetime(2026, 12, 3, 10, 5, 0, 500000, tzinfo=UTC))
    m.job_created(_task("c", "Retrying"), 2, datetime(2026, 12, 3, 11, 0, tzinfo=UTC))  # a retry: not a dispatch
    s = _samples(m)
    w = "kubetask_task_dispatch_wait_seconds"
    assert s[(w + "_count", (("namespace", "ns1"),))] == 2
    assert s[(w + "_sum", (("namespace", "ns1"),))] == pytest.approx(2.5)


def test_the_state_gauges_are_read_when_scraped_and_a_standby_reports_no_tasks() -> None:
    m = OperatorMetrics()
    leading = True
    m.state.leading = lambda: leading
    m.state.mirror_depth = lambda: (7, 1.5)
    m.state.events_dropped = lambda: 3
    m.state.events_queued = lambda: 2
    for name, phase in (("a", "Running"), ("b", "Running"), ("c", "Succeeded")):
        m.seen(_task(name, phase))
    m.seen(_task("c", "Succeeded"))  # seen again: still one
    m.forget("ns1", "b")
    s = _samples(m)
    assert s[("kubetask_tasks", (("namespace", "ns1"), ("phase", "Running")))] == 1
    assert s[("kubetask_tasks", (("namespace", "ns1"), ("phase", "Succeeded")))] == 1
    assert s[("kubetask_leader", ())] == 1
    assert (s[("kubetask_mirror_queue_depth", ())], s[("kubetask_mirror_lag_seconds", ())]) == (7, 1.5)
    assert (s[("kubetask_events_dropped_total", ())], s[("kubetask_event_queue_depth", ())]) == (3, 2)
    leading = False
    s = _samples(m)
    assert s[("kubetask_leader", ())] == 0
    assert not [k for k in s if k[0] == "kubetask_tasks"]
    m.forget_all()
    assert not m.phase_counts()


def test_schedule_runs_lateness_and_what_the_counters_grew_by() -> None:
    m = OperatorMetrics()
    due = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    m.run_created("ns1", due, datetime(2026, 12, 3, 10, 0, 0, 400000, tzinfo=UTC))
    m.run_created("ns1", None, due)  # no readable instant: counted, not timed
    m.schedule_written({"missedRuns": 2, "skippedRuns": 1}, 5, 1)
    m.schedule_written({}, 0, 2)
    s = _samples(m)
    assert s[("kubetask_schedule_runs_total", (("namespace", "ns1"),))] == 2
    assert s[("kubetask_schedule_lateness_seconds_count", ())] == 1
    assert s[("kubetask_schedule_lateness_seconds_sum", ())] == pytest.approx(0.4)
    assert s[("kubetask_schedule_missed_runs_total", ())] == 3
    assert s[("kubetask_schedule_skipped_runs_total", ())] == 2
