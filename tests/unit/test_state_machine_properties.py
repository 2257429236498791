"""Properties of decide() over states the product can reach: final phases absorb, decisions are
stable, attempts stay within the policy, and the strategies reach every phase (so none of these
passes for want of an interesting example)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import Phase as HypothesisPhase
from hypothesis import strategies as st

from kubetask.models import Phase, Task, TaskStatus
from kubetask.reconcile import Decision, decide, is_final
from tests.unit.strategies import Run, final_runs, later_observations, runs

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(data=st.data())
def test_final_phases_are_absorbing(data: st.DataObject) -> None:
    done = data.draw(final_runs())
    assert is_final(done.phase)  # drawn final by construction: never vacuous
    for later in data.draw(later_observations(done)):
        again = decide(later.observed())
        assert again.status == done.task.status, (done.phase, later.task.spec.cancel)
        assert (again.events, again.create_attempt, again.delete_jobs) == ((), None, ())


@PROPERTY
@given(r=runs())
def test_applying_a_decision_twice_changes_nothing(r: Run) -> None:
    d1 = decide(r.observed())
    applied = r.apply(d1)
    d2 = decide(applied.observed())
    if d1.requeue_at is not None and d1.requeue_at <= r.now:
        # a retry delay that has already passed: the next attempt is due at once (a second step)
        assert d2.create_attempt is not None or is_final(d2.status.phase)
        return
    assert d2.status == applied.task.status
    assert (d2.events, d2.create_attempt, d2.delete_jobs) == ((), None, ())


@PROPERTY
@given(r=runs())
def test_attempts_stay_within_the_policy_and_are_numbered_in_order(r: Run) -> None:
    st_ = r.task.status
    assert st_ is not None
    if st_.policy is None:  # resolved with the first attempt: a task that never got one has none
        assert st_.attempts == [] and r.task.spec.run_at is not None
        assert st_.phase in (Phase.SCHEDULED, Phase.CANCELLED, Phase.FAILED)
        return
    numbers = [a.number for a in st_.attempts]
    assert numbers == list(range(1, len(numbers) + 1)) and st_.attempt_count == len(numbers)
    assert len(numbers) <= st_.policy.max_attempts
    assert [a.job_name for a in st_.attempts] == [f"t-{n}" for n in numbers]
    assert all(is_final(a.phase) for a in st_.attempts[:-1])  # only the latest attempt can be under way
    created = [d.create_attempt for d in r.decisions if d.create_attempt is not None]
    assert created == sorted(set(created)) and all(n <= st_.policy.max_attempts for n in created)
    if st_.phase == Phase.DEAD_LETTERED:  # dead letters are for tasks that were allowed retries
        assert st_.policy.max_attempts > 1


@PROPERTY
@given(r=runs())
def test_no_job_is_created_before_run_at_and_a_scheduled_task_wakes_at_it(r: Run) -> None:
    run_at = r.task.spec.run_at
    if run_at is not None and r.now < run_at:  # the clock only moves forward: every step was before runAt
        assert [d.create_attempt for d in r.decisions if d.create_attempt is not None] == []
        assert r.jobs == {} and r.phase in (Phase.SCHEDULED, Phase.CANCELLED)
    for d in r.decisions:
        if d.status.phase == Phase.SCHEDULED:
            assert d.requeue_at == run_at and d.create_attempt is None


def _status(r: Run) -> TaskStatus:
    return r.task.status or TaskStatus()


def _after(r: Run, phase: Phase, then: Callable[[Decision], bool]) -> bool:
    """Whether a decision in `phase` was followed by one that does `then`."""
    return any(a.status.phase == phase and then(b) for a, b in itertools.pairwise(r.decisions))


# What the strategies must reach; the paths that need several attempts, a cancel or a deadline
# are named on their own, since reaching the phase some other way would not exercise them.
TARGETS: dict[str, Callable[[Run], bool]] = {
    **{p.value: (lambda r, p=p: r.phase == p) for p in Phase},  # type: ignore[misc]
    "DeadLettered after retries": lambda r: r.phase == Phase.DEAD_LETTERED and _status(r).attempt_count > 1,
    "Cancelled while Retrying": lambda r: r.phase == Phase.CANCELLED and r.decisions[-2].status.phase == Phase.RETRYING,
    "Cancelled while Scheduled": lambda r: _after(r, Phase.SCHEDULED, lambda d: d.status.phase == Phase.CANCELLED),
    "Started at runAt": lambda r: _after(r, Phase.SCHEDULED, lambda d: d.create_attempt == 1),
    "Failed past the deadline": lambda r: r.phase == Phase.FAILED and _status(r).reason == "DeadlineExceeded",
    "Succeeded on a later attempt": lambda r: r.phase == Phase.SUCCEEDED and _status(r).attempt_count > 1,
    "PodLost after a retry": lambda r: _status(r).attempt_count > 1 and _status(r).attempts[-1].reason == "PodLost",
}


class _AllSeen(Exception):
    """Stops the coverage pass once every target was reached."""


def test_the_strategies_reach_every_phase() -> None:
    seen: set[str] = set()

    # seeded and never shrunk: the same examples on every run, stopped once every target was seen
    @settings(derandomize=True, database=None, max_examples=2000, phases=[HypothesisPhase.generate], deadline=None)
    @given(r=runs())
    def collect(r: Run) -> None:
        seen.update(name for name, hit in TARGETS.items() if hit(r))
        if seen == set(TARGETS):
            raise _AllSeen

    with contextlib.suppress(_AllSeen):
        collect()
    assert sorted(set(TARGETS) - seen) == []


@settings(max_examples=100, deadline=None)
@given(r=runs())
def test_status_and_spec_round_trip_through_the_wire_form(r: Run) -> None:
    assert r.task.status is not None
    assert Task.model_validate(r.task.to_wire()) == r.task


def _empty_strings(value: object, path: str = "") -> list[str]:
    if value == "":
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _empty_strings(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _empty_strings(v, f"{path}/{i}")]
    return []


@PROPERTY
@given(r=runs())
def test_decided_statuses_hold_no_empty_strings(r: Run) -> None:
    # every reason and message decide() writes says something, and unset fields are omitted; an
    # apiserver built like the unpatched test cluster's (go-openapi taking "" for null, see
    # scripts/cluster/build.sh) would even refuse such a status write with 422
    wire = decide(r.observed()).status.to_wire()
    wire.pop("result", None)  # the task's own output: "" is a result like any other
    assert _empty_strings(wire) == []
