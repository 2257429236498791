"""Backoff math and retry classification (pure): documented delays, caps, jitter bounds, noRetryOn."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetask.models import ResolvedPolicy, RetryPolicy
from kubetask.retry import base_delay, delay, jitter_draw, resolve, retryable


def pol(**kw: object) -> ResolvedPolicy:
    return ResolvedPolicy.model_validate({"jitter": "none", **kw})


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        pytest.param("constant", [5, 5, 5, 5, 5], id="constant"),
        pytest.param("linear", [5, 10, 15, 20, 25], id="linear"),
        pytest.param("exponential", [5, 15, 45, 60, 60], id="exponential capped at 60"),
    ],
)
def test_documented_delays(backoff: str, expected: list[float]) -> None:
    p = pol(backoff=backoff, delaySeconds=5, factor=3, maxDelaySeconds=60)
    assert [base_delay(p, n) for n in range(1, 6)] == expected
    assert [delay(p, n, 0.7) for n in range(1, 6)] == expected  # no jitter: the draw is ignored


def test_full_jitter_spans_zero_to_base() -> None:
    p = pol(backoff="constant", delaySeconds=8, jitter="full")
    assert [delay(p, 1, 0.0), delay(p, 1, 0.5)] == [0.0, 4.0] and delay(p, 1, 0.999) == pytest.approx(7.992)


def test_proportional_jitter_stays_within_ratio() -> None:
    p = pol(backoff="constant", delaySeconds=10, jitter="proportional", jitterRatio=0.2)
    assert (delay(p, 1, 0.0), delay(p, 1, 0.5), delay(p, 1, 1.0)) == pytest.approx((8.0, 10.0, 12.0))


policies = st.builds(
    lambda b, d, f, m, j, r: pol(backoff=b, delaySeconds=d, factor=f, maxDelaySeconds=m, jitter=j, jitterRatio=r),
    st.sampled_from(["constant", "linear", "exponential"]),
    st.floats(0, 100),
    st.floats(1, 10),
    st.floats(0, 3600),
    st.sampled_from(["none", "full", "proportional"]),
    st.floats(0, 1),
)


@settings(max_examples=300)
@given(p=policies, n=st.integers(1, 200), draw=st.floats(0, 1, exclude_max=True))
def test_backoff_is_non_decreasing_capped_and_jitter_bounded(p: ResolvedPolicy, n: int, draw: float) -> None:
    assert base_delay(p, n) <= base_delay(p, n + 1) <= p.max_delay_seconds
    assert 0 <= delay(p, n, draw) <= p.max_delay_seconds + 1e-9


@pytest.mark.parametrize(
    ("policy", "reason", "code", "expected"),
    [
        pytest.param({}, "NonZeroExit", 1, True, id="exit retried by default"),
        pytest.param({}, "Evicted", None, True, id="eviction retried by default"),
        pytest.param({}, "PodLost", None, True, id="lost pod retried by default"),
        pytest.param({}, "InvalidParams", None, False, id="invalid params never"),
        pytest.param({"retryOn": ["InvalidParams"]}, "InvalidParams", None, False, id="not even when asked"),
        pytest.param({}, "InvalidResult", 0, False, id="invalid result not by default"),
        pytest.param({"retryOn": ["InvalidResult"]}, "InvalidResult", 0, True, id="invalid result on request"),
        pytest.param({"noRetryOn": [3]}, "NonZeroExit", 3, False, id="noRetryOn exit code"),
        pytest.param({"noRetryOn": [3]}, "NonZeroExit", 4, True, id="other exit code"),
        pytest.param({"noRetryOn": ["OOMKilled"]}, "OOMKilled", 137, False, id="noRetryOn reason"),
        pytest.param({"retryOn": [75, "Evicted"]}, "NonZeroExit", 75, True, id="retryOn exit code"),
        pytest.param({"retryOn": [75, "Evicted"]}, "NonZeroExit", 1, False, id="retryOn excludes others"),
        pytest.param({"retryOn": ["NonZeroExit"], "noRetryOn": [2]}, "NonZeroExit", 2, False, id="noRetryOn wins"),
    ],
)
def test_retry_classification(policy: dict[str, object], reason: str, code: int | None, expected: bool) -> None:
    assert retryable(pol(**policy), reason=reason, exit_code=code) is expected


def test_task_policy_overrides_template_field_by_field() -> None:
    merged = resolve(RetryPolicy(max_attempts=5, backoff="linear", delay_seconds=3), RetryPolicy(max_attempts=2))
    assert (merged.max_attempts, merged.backoff, merged.delay_seconds) == (2, "linear", 3)


def test_jitter_draw_is_stable_and_uniformish() -> None:
    assert jitter_draw("uid", 1) == jitter_draw("uid", 1) != jitter_draw("uid", 2)
    draws = [jitter_draw(f"u{i}", 1) for i in range(2000)]
    assert all(0 <= d < 1 for d in draws) and 0.45 < sum(draws) / len(draws) < 0.55
