"""decide() for the reliability paths: Retrying, DeadLettered, Cancelled, deadlines, pending, TTL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubetask.models import Phase, Task
from kubetask.reconcile import Decision, decide, record_attempt
from tests.unit.builders import NOW, exited, job, make_task, make_template, observed, pod

RETRY3 = {"maxAttempts": 3, "backoff": "constant", "delaySeconds": 30, "jitter": "none"}


def _task(status: dict[str, Any] | None = None, **spec: Any) -> Task:
    return make_task(status=status, **({"templateRef": {"name": "tpl"}, "params": {}} | spec))


def _step(t: Task, *jobs: Any, now: Any = NOW, **kw: Any) -> tuple[Decision, Task]:
    d = decide(observed(t, *jobs, now=now, **kw))
    return d, make_task(status=d.status.to_wire(), **t.spec.to_wire())


def _running_attempt(spec: dict[str, Any], number: int = 1) -> Task:
    t = _task(**spec)
    d, t = _step(t)
    assert d.create_attempt == 1
    st = record_attempt(d.status, number=number, job=f"t-{number}", now=NOW, gen=1)
    return make_task(status=st.to_wire(), **t.spec.to_wire())


def test_retryable_failure_waits_then_starts_the_next_attempt() -> None:
    t = _running_attempt({"retry": RETRY3})
    d, t = _step(t, job(exited(1, "boom")))
    assert d.status.phase == Phase.RETRYING and d.events[0].reason == "Retrying"
    nxt = d.status.next_attempt_time
    assert nxt == NOW + timedelta(seconds=35) and d.requeue_at == nxt  # finished at NOW+5s, +30s delay
    early, _ = _step(t, job(exited(1, "boom")), now=nxt - timedelta(seconds=1))
    assert early.create_attempt is None and early.requeue_at == nxt
    due, _ = _step(t, job(exited(1, "boom")), now=nxt)
    assert due.create_attempt == 2 and due.resolved is not None


def test_exhausted_retryable_failures_are_dead_lettered_with_history() -> None:
    t = _running_attempt({"retry": RETRY3})
    for n in (1, 2, 3):
        jobs = [job(exited(1, f"boom {i}"), attempt=i) for i in range(1, n + 1)]
        d, t = _step(t, *jobs, now=NOW + timedelta(minutes=5 * n))
        if n < 3:
            assert d.status.phase == Phase.RETRYING
            st = record_attempt(d.status, number=n + 1, job=f"t-{n + 1}", now=NOW, gen=1)
            t = make_task(status=st.to_wire(), **t.spec.to_wire())
    assert d.status.phase == Phase.DEAD_LETTERED and d.status.reason == "NonZeroExit"
    assert [a.phase for a in d.status.attempts] == [Phase.FAILED] * 3
    assert "all 3 attempts failed" in (d.status.message or "")
    assert {c.type for c in d.status.conditions} >= {"DeadLettered", "Retrying"}


def test_no_retry_on_exit_code_fails_at_once() -> None:
    t = _running_attempt({"retry": {**RETRY3, "noRetryOn": [3]}})
    d, _ = _step(t, job(exited(3, "bad config")))
    assert (d.status.phase, d.status.reason) == (Phase.FAILED, "NonZeroExit")


def test_single_attempt_default_fails_not_dead_letters() -> None:
    t = _running_attempt({})
    d, _ = _step(t, job(exited(2)))
    assert d.status.phase == Phase.FAILED and d.status.policy is not None and d.status.policy.max_attempts == 1


def test_cancel_while_running_deletes_the_job() -> None:
    t = _running_attempt({})
    d, t = _step(t, job(pod("Running", running_since=NOW)))
    cancelled = make_task(status=d.status.to_wire(), **(t.spec.to_wire() | {"cancel": True}))
    c, _ = _step(cancelled, job(pod("Running", running_since=NOW)))
    assert (c.status.phase, c.status.reason, c.delete_jobs) == (Phase.CANCELLED, "Cancelled", ("t-1",))
    assert c.status.attempts[0].phase == Phase.CANCELLED


def test_cancel_while_waiting_for_a_retry() -> None:
    t = _running_attempt({"retry": RETRY3})
    d, t = _step(t, job(exited(1)))
    assert d.status.phase == Phase.RETRYING
    cancelled = make_task(status=d.status.to_wire(), **(t.spec.to_wire() | {"cancel": True}))
    c, _ = _step(cancelled, job(exited(1)))
    assert c.status.phase == Phase.CANCELLED and c.delete_jobs == () and c.status.next_attempt_time is None
    assert c.status.attempts[0].phase == Phase.FAILED  # history kept as it was


def test_pending_too_long_is_unschedulable_and_retried() -> None:
    t = _running_attempt({"retry": RETRY3, "pendingTimeoutSeconds": 60})
    stuck = job(pod("Pending", unschedulable="0/1 nodes are available: 1 Insufficient cpu."), created=NOW)
    d, _ = _step(t, stuck, now=NOW + timedelta(seconds=59))
    assert d.status.phase == Phase.PENDING and d.requeue_at == NOW + timedelta(seconds=60)
    d, _ = _step(t, stuck, now=NOW + timedelta(seconds=60))
    assert d.status.attempts[0].reason == "Unschedulable" and d.delete_jobs == ("t-1",)
    assert d.status.phase == Phase.RETRYING
    d, _ = _step(t, job(pod("Pending"), created=NOW), now=NOW + timedelta(seconds=61))
    assert d.status.attempts[0].reason == "PendingTimeout"


def test_operator_enforces_attempt_timeout_when_job_controller_lags() -> None:
    t = _running_attempt({"timeoutSeconds": 30})
    running = job(pod("Running", running_since=NOW))
    d, _ = _step(t, running, now=NOW + timedelta(seconds=39))
    assert d.status.phase == Phase.RUNNING and d.requeue_at == NOW + timedelta(seconds=40)
    d, _ = _step(t, running, now=NOW + timedelta(seconds=40))
    assert (d.status.phase, d.status.reason, d.delete_jobs) == (Phase.FAILED, "DeadlineExceeded", ("t-1",))


def test_overall_deadline_stops_retries() -> None:
    t = _running_attempt({"retry": RETRY3, "deadlineSeconds": 100})
    d, t = _step(t, job(exited(1)), created=NOW)
    assert d.status.phase == Phase.RETRYING
    d, _ = _step(t, job(exited(1)), now=NOW + timedelta(seconds=100), created=NOW)
    assert (d.status.phase, d.status.reason) == (Phase.FAILED, "DeadlineExceeded")
    assert "deadline of 100s" in (d.status.message or "")


def test_a_deadline_that_leaves_no_time_for_a_retry_dead_letters_after_one_attempt() -> None:
    t = _running_attempt({"retry": RETRY3, "deadlineSeconds": 20})  # the retry would start at 35 s
    d, _ = _step(t, job(exited(1, "boom")), now=NOW + timedelta(seconds=6), created=NOW)
    assert (d.status.phase, d.status.reason) == (Phase.DEAD_LETTERED, "NonZeroExit")
    assert d.status.message is not None and d.status.message.startswith("attempt 1 of 3 failed; last: NonZeroExit")
    assert d.status.message.endswith("no retry: the task's deadline leaves no time for another attempt")


def test_ttl_expires_finished_tasks() -> None:
    t = _running_attempt({"ttlSecondsAfterFinished": 60})
    d, t = _step(t, job(exited(0, "{}")))
    done_at = d.status.completion_time
    assert done_at is not None
    d, _ = _step(t, now=done_at + timedelta(seconds=59))
    assert not d.expire and d.requeue_at == done_at + timedelta(seconds=60)
    d, _ = _step(t, now=done_at + timedelta(seconds=60))
    assert d.expire


def test_template_missing_before_a_retry_waits_in_retrying() -> None:
    t = _running_attempt({"retry": RETRY3})
    d, t = _step(t, job(exited(1)))
    late = NOW + timedelta(hours=1)
    d2 = decide(observed(t, job(exited(1)), now=late, missing=True))
    assert d2.status.phase == Phase.RETRYING and d2.status.reason == "TemplateNotFound" and d2.create_attempt is None
    d3 = decide(observed(t, job(exited(1)), now=late, template=make_template()))
    assert d3.create_attempt == 2


def test_creating_an_attempt_schedules_the_pending_check() -> None:
    d = decide(observed(_task(pendingTimeoutSeconds=60, deadlineSeconds=30), created=NOW))
    assert d.create_attempt == 1 and d.requeue_at == NOW + timedelta(seconds=30)
    d = decide(observed(_task(pendingTimeoutSeconds=60)))
    assert d.requeue_at == NOW + timedelta(seconds=60)


def test_cancel_while_scheduled_ends_cancelled_and_no_job_is_ever_created() -> None:
    run_at = NOW + timedelta(minutes=10)
    d, t = _step(_task(runAt=run_at.isoformat()))
    assert d.status.phase == Phase.SCHEDULED
    cancelled = make_task(status=d.status.to_wire(), **(t.spec.to_wire() | {"cancel": True}))
    c, t = _step(cancelled)
    assert (c.status.phase, c.status.reason) == (Phase.CANCELLED, "Cancelled")
    assert (c.create_attempt, c.delete_jobs) == (None, ())
    assert c.status.attempts == [] and [e.reason for e in c.events] == ["Cancelled"]
    after, _ = _step(t, now=run_at + timedelta(seconds=1))  # the wake-up at runAt still comes
    assert (after.status, after.create_attempt, after.events) == (c.status, None, ())


@pytest.mark.parametrize(
    ("run_at", "deadline_at"),
    [
        pytest.param(NOW + timedelta(seconds=300), NOW + timedelta(seconds=400), id="a later runAt: from runAt"),
        pytest.param(NOW - timedelta(seconds=300), NOW + timedelta(seconds=100), id="a past runAt: from creation"),
    ],
)
def test_the_deadline_counts_from_run_at_when_it_is_later_than_the_creation(run_at: Any, deadline_at: Any) -> None:
    t = _task(runAt=run_at.isoformat(), deadlineSeconds=100, pendingTimeoutSeconds=900)
    d, t = _step(t, created=NOW)
    if run_at > NOW:
        assert d.status.phase == Phase.SCHEDULED and d.requeue_at == run_at
        waited, _ = _step(t, now=run_at - timedelta(seconds=1), created=NOW)  # past creation + 100 s, still waiting
        assert (waited.status.phase, waited.create_attempt) == (Phase.SCHEDULED, None)
        d, t = _step(t, now=run_at, created=NOW)
    assert d.create_attempt == 1 and d.requeue_at == deadline_at
    st = record_attempt(d.status, number=1, job="t-1", now=NOW, gen=1)
    t = make_task(status=st.to_wire(), **t.spec.to_wire())
    running = job(pod("Running", running_since=deadline_at - timedelta(seconds=50)))
    before, _ = _step(t, running, now=deadline_at - timedelta(seconds=1), created=NOW)
    assert before.status.phase == Phase.RUNNING
    over, _ = _step(t, running, now=deadline_at, created=NOW)
    assert (over.status.phase, over.status.reason, over.delete_jobs) == (Phase.FAILED, "DeadlineExceeded", ("t-1",))


def test_pending_and_attempt_timeouts_of_a_delayed_task_count_from_its_job_and_pod() -> None:
    run_at = NOW + timedelta(hours=1)
    t = _task(runAt=run_at.isoformat(), pendingTimeoutSeconds=60, timeoutSeconds=30)
    d, t = _step(t, created=NOW)
    d, t = _step(t, now=run_at, created=NOW)
    assert d.create_attempt == 1 and d.requeue_at == run_at + timedelta(seconds=60)
    st = record_attempt(d.status, number=1, job="t-1", now=run_at, gen=1)
    t = make_task(status=st.to_wire(), **t.spec.to_wire())
    running = job(pod("Running", running_since=run_at + timedelta(seconds=5)), created=run_at)
    d, _ = _step(t, running, now=run_at + timedelta(seconds=20), created=NOW)
    assert d.status.phase == Phase.RUNNING and d.requeue_at == run_at + timedelta(seconds=45)  # 5 s + 30 s + grace
