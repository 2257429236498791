"""What the operator's and the API's Prometheus metrics share: the apiserver request metrics, the
build info, and the rule that no label names a task (README, "Metrics").

Each process part makes its own `CollectorRegistry` (tests run several apps and operators in one
process); nothing here registers in prometheus-client's global registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, Info
from prometheus_client import Counter as PromCounter

from .build import version

# the only label names any kubetask metric has: none of them can hold a task's name or uid, whose
# number is unbounded (tests/unit/test_metrics_labels_name_no_task.py holds every metric to this)
LABELS = frozenset(
    {"namespace", "phase", "from_phase", "to_phase", "template", "result", "reason", "verb", "resource", "code"}
    | {"route", "method", "component", "version"}
)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30)


def build_info(registry: CollectorRegistry, component: str) -> None:
    """`kubetask_build_info{component, version}` = 1."""
    Info("kubetask_build", "This process's kubetask version.", registry=registry).info(
        {"component": component, "version": version()}
    )


class ApiserverRequests:
    """Requests a process sent the apiserver through `kubetask.kubeapi.JsonApi` (its `observe` hook)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = PromCounter(
            "kubetask_apiserver_requests",
            "Requests sent to the apiserver outside kopf's watches, by verb, resource and answer code "
            "(code 0: no answer, e.g. a timeout or a refused connection).",
            ["verb", "resource", "code"],
            registry=registry,
        )
        self.seconds = Histogram(
            "kubetask_apiserver_request_duration_seconds",
            "Time an apiserver request took, by verb.",
            ["verb"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )

    def __call__(self, verb: str, resource: str, code: int, seconds: float) -> None:
        self.requests.labels(verb, resource, str(code)).inc()
        self.seconds.labels(verb).observe(seconds)
