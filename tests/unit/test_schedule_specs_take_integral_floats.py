"""A schedule's spec over REST: an integral float is the integer it is (JSON Schema's and the
apiserver's reading), except in the params, which are kept exactly as sent; and the Ready
condition is lifted out of the status for readers."""

from __future__ import annotations

from typing import Any

import pytest

from kubetask.api.schedule_service import _spec_integers, public


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"maxMissedRuns": 3.0}, {"maxMissedRuns": 3}),
        ({"maxMissedRuns": 1.5}, {"maxMissedRuns": 1.5}),
        ({"jitterSeconds": 1e300}, {"jitterSeconds": 1e300}),
        (
            {"task": {"timeoutSeconds": 60.0, "retry": {"retryOn": [3.0, "OOMKilled"]}}},
            {"task": {"timeoutSeconds": 60, "retry": {"retryOn": [3, "OOMKilled"]}}},
        ),
        (
            {"task": {"timeoutSeconds": 5.0, "params": {"n": 2.0}}},
            {"task": {"timeoutSeconds": 5, "params": {"n": 2.0}}},
        ),
        ({"schedule": "0 * * * *", "suspend": True}, {"schedule": "0 * * * *", "suspend": True}),
    ],
    ids=[
        "an integral float",
        "a fraction",
        "past int64",
        "nested and in lists",
        "not in the params",
        "others untouched",
    ],
)
def test_integral_floats_become_integers_outside_the_params(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    out = _spec_integers(spec)
    assert out == expected
    assert [type(v) for v in _leaves(out)] == [type(v) for v in _leaves(expected)]


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def test_the_ready_condition_is_lifted_out_of_the_status() -> None:
    raw = {
        "metadata": {"namespace": "ns", "name": "nightly", "uid": "u1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"schedule": "0 3 * * *", "suspend": True},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Suspended", "message": "why"}]},
    }
    s = public(raw)
    assert (s.suspended, s.ready and s.ready.reason, s.ready and s.ready.message) == (True, "Suspended", "why")
    assert public({**raw, "status": {}}).ready is None
