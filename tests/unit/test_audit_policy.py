"""What the audit trail records and when (kubetask.api.audit_policy): pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubetask.api import audit_policy as policy
from kubetask.api.permissions import Identity, rule

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("method", "status", "audited"),
    [
        ("POST", 201, True),
        ("PUT", 422, True),  # a mutating request is audited whatever it answered
        ("DELETE", 404, True),
        ("patch", 200, True),
        ("GET", 200, False),  # a read let through is not
        ("GET", 404, False),
        ("GET", 401, True),  # a refused one is
        ("GET", 403, True),
        ("GET", 429, True),
        ("GET", 503, False),  # the route's 503 (the database); a review's 503 is marked by the adapter
    ],
)
def test_mutating_and_refused_requests_are_audited(method: str, status: int, audited: bool) -> None:
    assert policy.audited(method, status) is audited


def test_the_decision_names_the_refusal_or_allowed() -> None:
    assert [policy.decision(s) for s in (201, 404, 422, 500, 401, 403, 429)] == [
        *["allowed"] * 4,
        "unauthenticated",
        "forbidden",
        "throttled",
    ]
    assert policy.decision(503, review_failed=True) == "unavailable"
    assert policy.decision(None) == "allowed"


@pytest.mark.parametrize("given", ["abc", "0f3c-19:ab.CD_x", "a" * 64])
def test_a_sane_client_request_id_is_kept(given: str) -> None:
    assert policy.request_id(given) == given


@pytest.mark.parametrize("given", [None, "", "a" * 65, "-leading-dash", "has space", "semi;colon", "é", "a\nb"])
def test_anything_else_gets_a_new_random_id(given: str | None) -> None:
    made = policy.request_id(given)
    assert made != given and len(made) == 32 and int(made, 16) >= 0
    assert policy.request_id(given) != made  # random each time


def test_an_entry_names_the_permission_namespace_name_and_caller() -> None:
    op = "POST /api/v1/namespaces/{ns}/tasks/{name}/cancel"
    who = Identity("alice", "u-1", ("team-a", "system:authenticated"))
    e = policy.entry(
        time=NOW,
        method="POST",
        operation=op,
        rule=rule("POST", op.split()[1]),
        path_params={"ns": "team-a", "name": "nightly"},
        request_id="r-1",
        who=who,
        source="10.0.0.7",
    )
    assert (e.verb, e.resource, e.namespace, e.name) == ("patch", "tasks", "team-a", "nightly")
    assert (e.user, e.groups, e.source, e.decision, e.status) == (
        "alice",
        ("team-a", "system:authenticated"),
        "10.0.0.7",
        "allowed",
        None,
    )


def test_a_cluster_wide_operation_has_no_namespace_and_no_caller_before_authentication() -> None:
    e = policy.entry(
        time=NOW,
        method="POST",
        operation="POST /api/v1/deadletters/redrive",
        rule=rule("POST", "/api/v1/deadletters/redrive"),
        path_params={},
        request_id="r-2",
        who=None,
        source=None,
    )
    assert (e.verb, e.resource, e.namespace, e.name, e.user, e.groups) == ("create", "tasks", None, None, None, ())
    assert policy.target(None, "DELETE") == ("delete", "")


@pytest.mark.parametrize(
    ("location", "name"),
    [
        ("/api/v1/namespaces/a/tasks/t-1", "t-1"),
        ("/api/v1/namespaces/a/templates/echo/", "echo"),
        (None, None),
        ("", None),
    ],
)
def test_a_create_is_named_by_its_location(location: str | None, name: str | None) -> None:
    assert policy.created_name(location) == name


def test_retention() -> None:
    assert policy.cutoff(NOW, 90) == NOW - timedelta(days=90)
    assert policy.cutoff(NOW, 0) is None  # keep everything
    assert policy.purge_due(None, 5.0)
    assert not policy.purge_due(100.0, 100.0 + policy.PURGE_EVERY_SECONDS - 1)
    assert policy.purge_due(100.0, 100.0 + policy.PURGE_EVERY_SECONDS)
