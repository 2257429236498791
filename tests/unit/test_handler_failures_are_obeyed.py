"""The failure contract: what a handler reports (permanent, retryable, Retry-After) and how decide() obeys it."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubetask import conditions as c
from kubetask.executor.report import Failure, Report, encode
from kubetask.models import HandlerReport, Phase, Task
from kubetask.observe import outcome
from kubetask.reconcile import Decision, decide, record_attempt
from tests.unit.builders import NOW, exited, job, make_task, observed
from tests.unit.strategies import retry_policies

RAISED = NOW + timedelta(seconds=4, milliseconds=300)  # the pod's clock; finishedAt is NOW+5s (builders)
FINISHED = NOW + timedelta(seconds=5)


def _report(failure: Failure | None = None, result: Any = None) -> str:
    return encode(Report(handler="h", version="3", time=RAISED, result=result, failure=failure))


def _running(retry: dict[str, Any], **spec: Any) -> Task:
    t = make_task(**({"templateRef": {"name": "tpl"}, "params": {}, "retry": retry} | spec))
    d = decide(observed(t))
    assert d.create_attempt == 1
    st_ = record_attempt(d.status, number=1, job="t-1", now=NOW, gen=1)
    return make_task(status=st_.to_wire(), **t.spec.to_wire())


def _ends(retry: dict[str, Any], code: int, message: str, **kw: Any) -> Decision:
    return decide(observed(_running(retry), job(exited(code, message), **kw), now=FINISHED))


BUSY = Failure("HTTPStatus", "HTTP 429 Too Many Requests", retryable=True, retry_after_seconds=8)
GONE = Failure("HTTPStatus", "HTTP 404 Not Found", retryable=False)
THREE = {"maxAttempts": 3, "backoff": "constant", "delaySeconds": 0, "jitter": "none"}


@pytest.mark.parametrize(
    ("retry", "failure", "phase", "reason"),
    [
        (THREE | {"retryOn": ["NonZeroExit"]}, GONE, Phase.FAILED, c.REASON_PERMANENT_FAILURE),
        (THREE | {"retryOn": [1]}, GONE, Phase.FAILED, c.REASON_PERMANENT_FAILURE),
        (THREE, GONE, Phase.FAILED, c.REASON_PERMANENT_FAILURE),
        (THREE, BUSY, Phase.RETRYING, c.REASON_RETRYING),
        (THREE | {"noRetryOn": ["NonZeroExit"]}, BUSY, Phase.FAILED, c.REASON_NON_ZERO_EXIT),
        (THREE | {"noRetryOn": [1]}, BUSY, Phase.FAILED, c.REASON_NON_ZERO_EXIT),
        (THREE | {"retryOn": ["OOMKilled"]}, BUSY, Phase.FAILED, c.REASON_NON_ZERO_EXIT),
        (THREE, Failure("ValueError", "bad"), Phase.RETRYING, c.REASON_RETRYING),
        ({"maxAttempts": 1}, BUSY, Phase.FAILED, c.REASON_NON_ZERO_EXIT),
    ],
    ids=[
        "permanent-wins-over-retryOn-reason",
        "permanent-wins-over-retryOn-exit-code",
        "permanent-with-attempts-left",
        "retryable-with-attempts-left",
        "noRetryOn-reason-wins-over-retryable",
        "noRetryOn-exit-code-wins-over-retryable",
        "retryable-outside-retryOn-is-not-retried",
        "unclassified-is-retryable-as-before",
        "retryable-without-attempts-left-fails",
    ],
)
def test_the_handlers_class_is_obeyed_within_the_policy(
    retry: dict[str, Any], failure: Failure, phase: Phase, reason: str
) -> None:
    d = _ends(retry, 1, _report(failure))
    assert (d.status.phase, d.status.reason) == (phase, reason)
    assert d.create_attempt is None


def test_a_permanent_failure_ends_the_task_after_one_attempt_and_says_why() -> None:
    d = _ends(THREE | {"retryOn": ["NonZeroExit"]}, 1, _report(GONE))
    assert d.status.phase == Phase.FAILED and d.status.next_attempt_time is None
    assert d.status.message == "exit code 1: HTTPStatus: HTTP 404 Not Found"
    assert [e.reason for e in d.events] == [c.REASON_PERMANENT_FAILURE]
    (attempt,) = d.status.attempts
    assert attempt.reason == c.REASON_PERMANENT_FAILURE and attempt.exit_code == 1
    said = HandlerReport(name="h", version="3", time=RAISED, failure_kind="HTTPStatus", retryable=False)
    assert attempt.handler == said


def test_the_attempt_records_what_the_handler_said_of_a_retryable_failure() -> None:
    d = _ends(THREE, 1, _report(BUSY))
    (attempt,) = d.status.attempts
    assert attempt.handler is not None and attempt.handler.retryable is True
    assert (attempt.handler.failure_kind, attempt.handler.retry_after_seconds) == ("HTTPStatus", 8.0)


def _next(retry: dict[str, Any], retry_after: float | None) -> datetime:
    failure = Failure("RetryableError", "busy", retryable=True, retry_after_seconds=retry_after)
    d = _ends(retry, 1, _report(failure))
    assert d.status.phase == Phase.RETRYING and d.status.next_attempt_time is not None
    assert d.requeue_at == d.status.next_attempt_time
    return d.status.next_attempt_time


@pytest.mark.parametrize(
    ("retry", "retry_after", "expected"),
    [
        (THREE, 8, RAISED + timedelta(seconds=9) - timedelta(milliseconds=300)),  # whole second at/after +8 s
        (THREE, None, FINISHED),
        (THREE | {"delaySeconds": 30}, 8, FINISHED + timedelta(seconds=30)),
        (THREE | {"maxDelaySeconds": 5}, 8, NOW + timedelta(seconds=10)),  # raised +4.3 s, +5 s cap
        (THREE | {"maxDelaySeconds": 0}, 3600, FINISHED),
        (THREE, 0, FINISHED),
    ],
    ids=[
        "retry-after-is-a-floor-from-when-it-was-raised",
        "no-retry-after-the-policy-alone",
        "a-longer-policy-delay-wins",
        "capped-by-maxDelaySeconds",
        "a-zero-cap-ignores-it",
        "zero-changes-nothing",
    ],
)
def test_the_next_attempt_is_not_before_the_retry_after_capped_by_max_delay(
    retry: dict[str, Any], retry_after: float | None, expected: datetime
) -> None:
    assert _next(retry, retry_after) == expected


def test_no_attempt_starts_before_the_retry_after() -> None:
    t = _running(THREE)
    failed = job(exited(1, _report(BUSY)))
    d = decide(observed(t, failed, now=FINISHED))
    t = make_task(status=d.status.to_wire(), **t.spec.to_wire())
    nxt = d.status.next_attempt_time
    assert nxt is not None and nxt >= RAISED + timedelta(seconds=8)
    for now in (FINISHED, RAISED + timedelta(seconds=7), nxt - timedelta(seconds=1)):
        assert decide(observed(t, failed, now=now)).create_attempt is None
    assert decide(observed(t, failed, now=nxt)).create_attempt == 2


def test_a_reported_result_is_the_tasks_result_and_checked_against_the_schema() -> None:
    ok = _ends(THREE, 0, _report(result={"status": 200}), result_schema={"type": "object"})
    assert ok.status.phase == Phase.SUCCEEDED and ok.status.result == {"status": 200}
    assert ok.status.attempts[0].handler == HandlerReport(name="h", version="3", time=RAISED)
    bad = _ends({"maxAttempts": 1}, 0, _report(result=[1]), result_schema={"type": "object"})
    assert (bad.status.phase, bad.status.reason) == (Phase.FAILED, c.REASON_INVALID_RESULT)


@pytest.mark.parametrize(
    ("message", "reason", "text"),
    [
        ("TaskFailed: no luck", c.REASON_NON_ZERO_EXIT, "exit code 3: TaskFailed: no luck"),
        ('{"kubetaskReport": 1, "failure": {}}', c.REASON_NON_ZERO_EXIT, "exit code 3: Error: "),
        ('{"kubetaskReport": true, "failure": {}}', c.REASON_NON_ZERO_EXIT, None),
        ('{"kubetaskReport": 1, "failure": {"retryable": "no"}}', c.REASON_NON_ZERO_EXIT, "exit code 3: Error: "),
        ('{"kubetaskReport": 2, "failure": {"retryable": false}, "progress": 1}', c.REASON_PERMANENT_FAILURE, None),
    ],
    ids=["plain-line-as-before", "empty-failure", "marker-not-a-number", "retryable-not-a-bool", "newer-envelope"],
)
def test_termination_messages_that_are_not_well_formed_reports_stay_retryable(
    message: str, reason: str, text: str | None
) -> None:
    out = outcome(job(exited(3, message)), now=FINISHED)
    assert out.reason == reason
    if text is not None:
        assert out.message == text


@given(retry=retry_policies, retry_after=st.one_of(st.none(), st.floats(0, 10**6)), permanent=st.booleans())
def test_a_permanent_failure_is_never_retried_and_a_retry_after_never_undercut(
    retry: dict[str, Any], retry_after: float | None, permanent: bool
) -> None:
    failure = Failure("X", "m", retryable=not permanent, retry_after_seconds=retry_after)
    d = _ends(retry, 1, _report(failure))
    assert d.create_attempt is None
    if permanent:
        assert (d.status.phase, d.status.reason) == (Phase.FAILED, c.REASON_PERMANENT_FAILURE)
    elif d.status.phase == Phase.RETRYING:
        nxt = d.status.next_attempt_time
        assert nxt is not None
        cap = float(retry.get("maxDelaySeconds", 600))
        floor = min(retry_after or 0.0, cap)
        assert nxt >= RAISED + timedelta(seconds=floor)
        # and never later than the policy's own delay or the capped Retry-After allows (+1 s rounding)
        assert nxt <= max(FINISHED + timedelta(seconds=cap), RAISED + timedelta(seconds=math.ceil(floor) + 1))


def test_a_pod_clock_ahead_of_the_node_cannot_stretch_the_retry_after() -> None:
    skewed = encode(Report(handler="h", time=NOW + timedelta(days=1), failure=BUSY))
    d = _ends(THREE, 1, skewed)
    assert d.status.next_attempt_time == FINISHED + timedelta(seconds=9)  # finishedAt + 1 s + 8 s at most
