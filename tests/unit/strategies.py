"""Hypothesis strategies shared by the property tests of the pure core."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st

from kubetask.observe import JobObservation, PodObservation, Terminated
from tests.unit.builders import NOW

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

terminated = st.builds(
    Terminated,
    exit_code=st.integers(0, 255),
    reason=st.sampled_from([None, "Completed", "Error", "OOMKilled"]),
    message=st.one_of(st.none(), st.text(max_size=40), json_values.map(lambda v: __import__("json").dumps(v))),
    started_at=st.just(NOW),
    finished_at=st.integers(0, 600).map(lambda s: NOW + timedelta(seconds=s)),
)

pods = st.builds(
    PodObservation,
    name=st.just("t-1-x"),
    phase=st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Unknown"]),
    created=st.just(NOW),
    reason=st.sampled_from([None, "Evicted", "DeadlineExceeded"]),
    waiting_reason=st.sampled_from([None, "ContainerCreating", "ErrImagePull", "CreateContainerConfigError"]),
    running_since=st.sampled_from([None, NOW]),
    terminated=st.one_of(st.none(), terminated),
)

jobs = st.builds(
    JobObservation,
    name=st.just("t-1"),
    attempt=st.just(1),
    complete=st.booleans(),
    failed_reason=st.sampled_from([None, "DeadlineExceeded", "BackoffLimitExceeded"]),
    result_schema=st.sampled_from([None, {"type": "object"}]),
    pods=st.lists(pods, max_size=2).map(tuple),
)
