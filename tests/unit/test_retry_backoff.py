"""Backoff math and retry classification (pure): documented delays, caps, jitter bounds, noRetryOn."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetask.models import ResolvedPolicy, RetryPolicy
from kubetask.policy import merge_retry
from kubetask.retry import base_delay, delay, jitter_draw, retryable


def pol(**kw: object) -> ResolvedPolicy:
    return ResolvedPolicy.model_validate({"jitter": "none", **kw})


# Hand-computed from the formulas in kubetask.retry's docstring. The same delay and factor give a
# different sequence for each kind, so a kind that is ignored (or read as another) fails a row.
# Factor 2 is the trap: linear and exponential agree on attempts 1 and 2 (d, 2d) and part at 3.
@pytest.mark.parametrize(
    ("backoff", "delay_s", "factor", "cap", "expected"),
    [
        pytest.param("constant", 2, 3, 600, [2, 2, 2, 2], id="constant d2 f3"),
        pytest.param("linear", 2, 3, 600, [2, 4, 6, 8], id="linear d2 f3 (factor unused)"),
        pytest.param("exponential", 2, 3, 600, [2, 6, 18, 54], id="exponential d2 f3"),
        pytest.param("linear", 3, 2, 600, [3, 6, 9, 12], id="linear d3 f2"),
        pytest.param("exponential", 3, 2, 600, [3, 6, 12, 24], id="exponential d3 f2 parts from linear at 3"),
        pytest.param("exponential", 1, 1, 600, [1, 1, 1, 1], id="exponential f1 is constant"),
        pytest.param("constant", 5, 3, 4, [4, 4, 4, 4], id="constant capped below d"),
        pytest.param("linear", 5, 3, 12, [5, 10, 12, 12], id="linear capped at 12"),
        pytest.param("exponential", 5, 3, 60, [5, 15, 45, 60], id="exponential capped at 60"),
        pytest.param("exponential", 0, 3, 600, [0, 0, 0, 0], id="exponential d0 no delay"),
    ],
)
def test_each_kind_gives_its_documented_delays(
    backoff: str, delay_s: float, factor: float, cap: float, expected: list[float]
) -> None:
    p = pol(backoff=backoff, delaySeconds=delay_s, factor=factor, maxDelaySeconds=cap)
    assert [base_delay(p, n) for n in range(1, 5)] == expected
    assert [delay(p, n, 0.7) for n in range(1, 5)] == expected  # no jitter: the draw is ignored


def test_huge_growth_stays_at_the_cap_instead_of_overflowing() -> None:
    # factor 10^6 at attempt 99 (maxAttempts allows 100) is 10^588: beyond a float
    assert base_delay(pol(backoff="exponential", delaySeconds=1, factor=1e6, maxDelaySeconds=600), 99) == 600
    assert base_delay(pol(backoff="exponential", delaySeconds=0, factor=1e6, maxDelaySeconds=600), 99) == 0
    assert base_delay(pol(backoff="exponential", delaySeconds=1, factor=10, maxDelaySeconds=600), 5000) == 600
    assert base_delay(pol(backoff="linear", delaySeconds=1, maxDelaySeconds=600), 5000) == 600


@pytest.mark.parametrize(
    ("policy", "attempt", "draw", "expected"),
    [
        pytest.param(
            {"backoff": "exponential", "jitter": "full"}, 3, 0.5, 9.0, id="full jitter half of exponential 18"
        ),
        pytest.param({"backoff": "linear", "jitter": "full"}, 3, 0.5, 3.0, id="full jitter half of linear 6"),
        pytest.param({"backoff": "exponential", "jitter": "full"}, 2, 0.0, 0.0, id="full jitter draw 0 is 0"),
        pytest.param(
            {"backoff": "exponential", "jitter": "proportional", "jitterRatio": 0.5},
            2,
            0.0,
            3.0,
            id="proportional 0.5 exponential 6 down to 3",
        ),
        pytest.param(
            {"backoff": "exponential", "jitter": "proportional", "jitterRatio": 0.5},
            2,
            1.0,
            9.0,
            id="proportional 0.5 exponential 6 up to 9",
        ),
        pytest.param(
            {"backoff": "constant", "jitter": "proportional", "jitterRatio": 0.5},
            2,
            1.0,
            3.0,
            id="proportional 0.5 constant 2 up to 3",
        ),
        pytest.param(
            {"backoff": "exponential", "jitter": "proportional", "jitterRatio": 0.5, "maxDelaySeconds": 20},
            3,
            1.0,
            20.0,
            id="proportional capped again",
        ),
        pytest.param(
            {"backoff": "exponential", "jitter": "full", "maxDelaySeconds": 10},
            3,
            0.5,
            5.0,
            id="full jitter half of the cap",
        ),
    ],
)
def test_jitter_applies_to_the_kind_and_cap(
    policy: dict[str, object], attempt: int, draw: float, expected: float
) -> None:
    p = pol(**{"delaySeconds": 2, "factor": 3, **policy})
    assert delay(p, attempt, draw) == pytest.approx(expected)


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
    st.floats(1, 1e6),  # large factors overflow a float within maxAttempts
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
    merged = merge_retry(RetryPolicy(max_attempts=5, backoff="linear", delay_seconds=3), RetryPolicy(max_attempts=2))
    assert (merged.max_attempts, merged.backoff, merged.delay_seconds) == (2, "linear", 3)


def test_jitter_draw_is_stable_and_uniformish() -> None:
    assert jitter_draw("uid", 1) == jitter_draw("uid", 1) != jitter_draw("uid", 2)
    draws = [jitter_draw(f"u{i}", 1) for i in range(2000)]
    assert all(0 <= d < 1 for d in draws) and 0.45 < sum(draws) / len(draws) < 0.55
