"""A large result makes its attempt Succeeded only on an accepted verdict kept in SQL (pure decisions)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubetask.conditions import REASON_RESULT_LOST, REASON_RESULT_TOO_LARGE
from kubetask.executor.report import Report, ResultRef, encode
from kubetask.executor.runtime import RESULT_TOO_LARGE
from kubetask.large_results import Verdict, judge
from kubetask.models import Phase
from kubetask.reconcile import decide, record_attempt, wants_verdict
from tests.unit.builders import NOW, exited, job, make_task, observed

REF = ResultRef(size=614400, sha256="ab" * 32, preview='{"rows":[')
SCHEMA = {"type": "object", "required": ["rows"], "properties": {"rows": {"type": "array"}}}


def _started(**status: Any) -> Any:
    t = make_task()
    st = record_attempt(decide(observed(t)).status, number=1, job="t-1", now=NOW, gen=1)
    return make_task(status=st.to_wire() | status)


def _framed(*, held: bool = True) -> Any:
    message = encode(Report(handler="echo", result_ref=REF))
    return dataclasses.replace(exited(0, message), log_held=held)


def _decide(task: Any, *jobs: Any, results: dict[int, Verdict] | None = None, kept: bool = True) -> Any:
    o = dataclasses.replace(observed(task, *jobs), results=results or {}, results_kept=kept)
    return decide(o)


def _verdict(reason: str | None = None, message: str | None = None) -> Verdict:
    return Verdict(1, REF.size, REF.sha256, REF.preview, reason=reason, message=message)


def test_without_a_verdict_the_attempt_stays_running_and_is_looked_at_again() -> None:
    d = _decide(_started(), job(_framed()))
    assert d.status.phase == Phase.RUNNING and d.status.result is None and d.status.large_result is None
    a = d.status.attempts[0]
    assert a.phase == Phase.RUNNING and a.finish_time is None and a.large_result is not None
    assert "600.0 KiB" in (d.status.message or "") and d.requeue_at is not None and d.requeue_at > NOW


def test_deciding_the_wait_again_changes_nothing() -> None:
    d = _decide(_started(), job(_framed()))
    again = _decide(make_task(status=d.status.to_wire()), job(_framed()))
    assert again.status == d.status and again.events == ()


def test_an_accepted_verdict_succeeds_with_size_sha256_and_preview_in_status() -> None:
    d = _decide(_started(), job(_framed()), results={1: _verdict()})
    assert d.status.phase == Phase.SUCCEEDED and d.status.result is None
    assert d.status.large_result is not None
    assert (d.status.large_result.size, d.status.large_result.sha256) == (REF.size, REF.sha256)
    assert d.status.attempts[0].phase == Phase.SUCCEEDED


@pytest.mark.parametrize(
    "reason", ["InvalidResult", REASON_RESULT_LOST, REASON_RESULT_TOO_LARGE], ids=["schema", "lost", "too-large"]
)
def test_a_refused_verdict_fails_with_its_reason_and_is_not_retried(reason: str) -> None:
    task = _started(policy={"maxAttempts": 3})
    d = _decide(task, job(_framed()), results={1: _verdict(reason, "why")})
    assert d.status.phase == Phase.FAILED and d.status.reason == reason
    assert d.status.attempts[0].reason == reason and d.create_attempt is None


def test_without_the_mirror_a_large_result_is_lost_with_a_clear_message() -> None:
    d = _decide(_started(), job(_framed(held=False)), kept=False)
    assert d.status.phase == Phase.FAILED and d.status.reason == REASON_RESULT_LOST
    assert "KUBETASK_OPERATOR_MIRROR=false" in (d.status.message or "")


def test_a_pod_let_go_without_a_verdict_is_a_lost_result() -> None:
    d = _decide(_started(), job(_framed(held=False)))
    assert d.status.reason == REASON_RESULT_LOST and "let go" in (d.status.message or "")


def test_a_pod_gone_after_the_verdict_still_succeeds_from_sql() -> None:
    waiting = _decide(_started(), job(_framed())).status
    d = _decide(make_task(status=waiting.to_wire()), job(complete=True), results={1: _verdict()})
    assert d.status.phase == Phase.SUCCEEDED and d.status.large_result is not None


def test_a_pod_gone_before_any_verdict_is_a_lost_result_not_a_success() -> None:
    waiting = _decide(_started(), job(_framed())).status
    d = _decide(make_task(status=waiting.to_wire()), job(complete=True))
    assert d.status.phase == Phase.FAILED and d.status.reason == REASON_RESULT_LOST


def test_the_executors_refusal_of_a_result_over_the_limit_is_result_too_large() -> None:
    from kubetask.executor.report import Failure

    msg = encode(Report(handler="echo", failure=Failure("ResultTooLarge", "result is 2000000 bytes", retryable=False)))
    d = _decide(_started(policy={"maxAttempts": 3}), job(exited(1, msg)))
    assert d.status.phase == Phase.FAILED and d.status.reason == REASON_RESULT_TOO_LARGE


def _judge(
    payload: bytes | None, *, size: int | None = None, max_bytes: int = 1 << 20, problem: str | None = None
) -> Verdict:
    ref = dataclasses.replace(REF, size=len(payload) if size is None and payload is not None else (size or 0))
    return judge(attempt=1, ref=ref, payload=payload, problem=problem, max_bytes=max_bytes, schema=SCHEMA)


@pytest.mark.parametrize(
    ("payload", "size", "max_bytes", "problem", "reason", "says"),
    [
        (b'{"rows": []}', None, 1 << 20, None, None, None),
        (b'{"rows": 3}', None, 1 << 20, None, "InvalidResult", "/rows"),
        (b'{"cols": []}', None, 1 << 20, None, "InvalidResult", "rows"),
        (b"not json", None, 1 << 20, None, "InvalidResult", "not JSON"),
        (b'{"rows": []}', None, 5, None, REASON_RESULT_TOO_LARGE, "the limit is 5"),
        (None, 600, 1 << 20, "2 of the result's 9 frames are missing", REASON_RESULT_LOST, "frames are missing"),
    ],
    ids=["accepted", "schema-type", "schema-required", "not-json", "over-limit", "frames-missing"],
)
def test_judging_a_framed_result(
    payload: bytes | None, size: int | None, max_bytes: int, problem: str | None, reason: str | None, says: str | None
) -> None:
    v = _judge(payload, size=size, max_bytes=max_bytes, problem=problem)
    assert v.reason == reason
    if says is not None:
        assert says in (v.message or "")


def test_only_an_attempt_that_may_have_framed_its_result_wants_a_verdict() -> None:
    assert wants_verdict(job(_framed()), NOW)  # exited 0, its report names a framed result
    assert wants_verdict(job(complete=True), NOW)  # pod gone: its report may have named one
    assert not wants_verdict(job(exited(0)), NOW)  # exited 0, no termination message: nothing framed
    assert not wants_verdict(job(exited(0, '{"a": 1}')), NOW)  # a small result in the message
    assert not wants_verdict(job(exited(1, "boom")), NOW)  # failed: no result to judge


def test_the_executor_fails_too_large_results_with_the_reason_the_operator_knows() -> None:
    # the executor spells it itself: kubetask.executor imports nothing of kubetask.conditions
    assert RESULT_TOO_LARGE == REASON_RESULT_TOO_LARGE
