"""Watch events that cannot change a decision are skipped; the ones that can are never skipped."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask.relevance import job_event_matters, pod_event_matters

RUNNING = {"status": {"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]}}
PULLING = {"status": {"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": "ErrImagePull"}}}]}}
UNSCHEDULED = {"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}}


@pytest.mark.parametrize(
    ("event", "body", "matters"),
    [
        ("ADDED", {"status": {"phase": "Pending"}}, False),
        ("MODIFIED", UNSCHEDULED, False),
        ("MODIFIED", PULLING, True),
        ("MODIFIED", RUNNING, True),
        ("MODIFIED", {"status": {"phase": "Failed", "reason": "Evicted"}}, True),
        ("MODIFIED", {"status": {"phase": "Succeeded"}}, True),
        ("DELETED", RUNNING, False),
    ],
)
def test_pod_events(event: str, body: dict[str, Any], matters: bool) -> None:
    assert pod_event_matters(event, body) is matters


@pytest.mark.parametrize(
    ("event", "body", "matters"),
    [
        ("ADDED", {"status": {}}, False),
        ("MODIFIED", {"status": {"active": 1}}, False),
        ("MODIFIED", {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}, True),
        ("MODIFIED", {"status": {"conditions": [{"type": "Failed", "status": "True"}]}}, True),
        ("MODIFIED", {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}, True),
        ("DELETED", {"status": {"active": 1}}, True),
    ],
)
def test_job_events(event: str, body: dict[str, Any], matters: bool) -> None:
    assert job_event_matters(event, body) is matters
