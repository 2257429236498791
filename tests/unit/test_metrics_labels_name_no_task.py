"""No metric of the operator or the API has a label that could hold a task's name or uid: every
metric is exercised once, and each label name of every sample is one of `kubetask.metrics.LABELS`
(the integration test checks the values against the names and uids of the tasks it ran)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kubetask.api.metrics import ApiMetrics
from kubetask.metrics import LABELS
from kubetask.operator.metrics import OperatorMetrics

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def _families(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Label names by metric family, `le` (a histogram's bucket bound) left out."""
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        names = out.setdefault(family.name, set())
        for s in family.samples:
            names |= set(s.labels) - {"le"}
    return out


def _exercised_operator() -> OperatorMetrics:
    m = OperatorMetrics()
    meta = {"namespace": "ns", "name": "t", "uid": "u", "creationTimestamp": "2026-12-03T09:59:00Z"}
    before: dict[str, Any] = {
        "metadata": meta,
        "spec": {"templateRef": {"name": "echo"}},
        "status": {"phase": "Running"},
    }
    ended = {"startTime": "2026-12-03T10:00:00Z", "completionTime": "2026-12-03T10:00:05Z"}
    after = {**before, "status": {"phase": "Failed", "reason": "Error", **ended}}
    m.written(before, after)
    m.job_created(before, 1, NOW)
    m.reconciled("ok", 0.01)
    m.request("get", "tasks", 200, 0.01)
    m.seen(before)
    m.run_created("ns", NOW, NOW)
    m.schedule_written({}, 1, 1)
    m.state.mirror_depth = lambda: (0, 0.0)
    m.state.events_dropped = lambda: 0
    m.state.events_queued = lambda: 0
    return m


def test_every_operator_metric_has_only_bounded_labels() -> None:
    families = _families(_exercised_operator().registry)
    assert len(families) >= 20, sorted(families)
    assert not {f: n - LABELS for f, n in families.items() if n - LABELS}


def test_every_api_metric_has_only_bounded_labels() -> None:
    m = ApiMetrics()
    m.answered("/api/v1/namespaces/{ns}/tasks/{name}", "GET", 200, 0.01)
    m.apiserver("get", "tasks", 200, 0.01)
    families = _families(m.registry)
    assert {"kubetask_api_requests", "kubetask_api_request_duration_seconds", "kubetask_build_info"} <= set(families)
    assert not {f: n - LABELS for f, n in families.items() if n - LABELS}


def test_the_rule_itself_names_no_task() -> None:
    assert not LABELS & {"name", "task", "uid", "pod", "job", "task_name", "task_uid", "schedule"}
