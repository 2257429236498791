"""Hypothesis strategies shared by the property tests of the pure core.

The interesting states of a Task (Retrying, DeadLettered, Cancelled, a deadline that ran out, a
Job that vanished) are reached only through several attempts. Hand-built statuses would test
decide() on states it can never produce, so `runs` draws a Task spec (retry, cancel, deadline and
time policies, a delayed start) and then drives decide() step by step the way the operator does:
what the cluster shows changes, time passes, sometimes a user cancels, each decision is applied
(status written, Job created or deleted). Every drawn state is one the product can reach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from kubetask.executor.report import Failure, Report, encode
from kubetask.models import Phase, Task
from kubetask.observe import ContainerExit, JobObservation, PodObservation
from kubetask.reconcile import Decision, Observed, decide, is_final, record_attempt
from tests.unit.builders import NOW, make_task, make_template

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def reports(at: datetime = NOW) -> st.SearchStrategy[str]:
    """An executor's report (kubetask.executor.report): a result, or a failure as a handler classed it."""
    failures = st.builds(
        Failure,
        kind=st.sampled_from(["RetryableError", "PermanentError", "HTTPStatus", "ValueError"]),
        message=st.text(max_size=20),
        retryable=st.booleans(),
        retry_after_seconds=st.one_of(st.none(), st.sampled_from([0.0, 0.5, 8.0, 30.0, 7200.0])),
    )
    return st.builds(
        Report,
        handler=st.just("h"),
        version=st.sampled_from([None, "1"]),
        time=st.integers(0, 600_000).map(lambda ms: at + timedelta(milliseconds=ms)),
        result=json_values,
        failure=st.one_of(st.none(), failures),
    ).map(encode)


def terminated(at: datetime = NOW) -> st.SearchStrategy[ContainerExit]:
    """A container that ended some seconds after `at`: exit 0 (with a result) or a failure."""
    return st.builds(
        ContainerExit,
        exit_code=st.sampled_from([0, 0, 0, 1, 3, 137, 255]),
        reason=st.sampled_from([None, "Completed", "Error", "OOMKilled"]),
        message=st.one_of(st.none(), st.text(max_size=40), json_values.map(json.dumps), reports(at)),
        started_at=st.just(at),
        finished_at=st.integers(0, 600).map(lambda s: at + timedelta(seconds=s)),
    )


def pods(name: str = "t-1-x", at: datetime = NOW) -> st.SearchStrategy[PodObservation]:
    return st.builds(
        PodObservation,
        name=st.just(name),
        phase=st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Unknown"]),
        created=st.just(at),
        reason=st.sampled_from([None, None, None, "Evicted", "DeadlineExceeded"]),
        waiting_reason=st.sampled_from(
            [None, None, None, "ContainerCreating", "ErrImagePull", "CreateContainerConfigError"]
        ),
        running_since=st.sampled_from([None, at]),
        terminated=st.one_of(st.none(), terminated(at)),
        unschedulable=st.sampled_from([None, "0/1 nodes are available: 1 Insufficient cpu."]),
    )


def jobs_of(attempt: int = 1, at: datetime = NOW) -> st.SearchStrategy[JobObservation]:
    """What the cluster may show for the Job of `attempt`, created at `at`."""
    return st.builds(
        JobObservation,
        name=st.just(f"t-{attempt}"),
        attempt=st.just(attempt),
        created=st.just(at),
        complete=st.booleans(),
        failed_reason=st.sampled_from([None, None, "DeadlineExceeded", "BackoffLimitExceeded"]),
        result_schema=st.sampled_from([None, {"type": "object"}]),
        pods=st.lists(pods(f"t-{attempt}-x", at), max_size=2).map(tuple),
    )


jobs = jobs_of(1)

retry_policies = st.fixed_dictionaries(
    {"maxAttempts": st.sampled_from([1, 2, 3, 3, 4])},
    optional={
        "backoff": st.sampled_from(["constant", "linear", "exponential"]),
        "delaySeconds": st.sampled_from([0, 1, 5, 30]),
        "factor": st.sampled_from([1, 2, 3]),
        "maxDelaySeconds": st.sampled_from([0, 10, 600]),
        "jitter": st.sampled_from(["none", "full", "proportional"]),
        "retryOn": st.sampled_from([["NonZeroExit"], [137, "PodLost"], ["InvalidResult", "NonZeroExit"]]),
        "noRetryOn": st.sampled_from([[3], ["OOMKilled"]]),
    },
)

task_specs = st.fixed_dictionaries(
    {"templateRef": st.just({"name": "tpl"}), "params": json_values, "retry": retry_policies},
    optional={
        "timeoutSeconds": st.integers(1, 120),
        "pendingTimeoutSeconds": st.integers(1, 120),
        "deadlineSeconds": st.integers(1, 900),
        "ttlSecondsAfterFinished": st.integers(0, 7200),
        # a delayed start (Scheduled until then), one already due, or one in the past
        "runAt": st.sampled_from([-60, 0, 5, 30, 600]).map(lambda s: NOW + timedelta(seconds=s)),
    },
)

# How far the clock moves between two reconciles: often not at all, sometimes past every delay.
time_steps = st.sampled_from([0, 0, 1, 5, 30, 120, 900]).map(lambda s: timedelta(seconds=s))


@dataclass(frozen=True)
class Run:
    """A Task as decide() left it after some steps, with what the cluster shows and the clock."""

    task: Task
    jobs: dict[int, JobObservation]
    now: datetime
    created: datetime = NOW
    decisions: tuple[Decision, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        # short: hypothesis warns (an error here) about a falsifying example's repr over ~30 kB
        st_ = self.task.status
        attempts = [(a.number, a.phase.value, a.reason) for a in st_.attempts] if st_ else []
        return (
            f"Run(spec={self.task.spec.to_wire()}, phase={self.phase.value}, reason={st_ and st_.reason}, "
            f"attempts={attempts}, jobs={sorted(self.jobs)}, now=+{(self.now - NOW).total_seconds()}s, "
            f"steps={[d.status.phase.value for d in self.decisions]})"
        )

    def _repr_pretty_(self, p: Any, _cycle: bool) -> None:  # hypothesis' printer, else it prints every field
        p.text(repr(self))

    @property
    def phase(self) -> Phase:
        return self.task.status.phase if self.task.status else Phase.PENDING

    def observed(self) -> Observed:
        return Observed(
            task=self.task,
            generation=1,
            template=make_template(),
            template_missing=False,
            jobs=dict(self.jobs),
            now=self.now,
            created=self.created,
        )

    def with_spec(self, **spec: Any) -> Run:
        wire = self.task.to_wire()
        return replace(self, task=make_task(status=wire.get("status"), **{**wire["spec"], **spec}))

    def apply(self, d: Decision) -> Run:
        """Perform `d` as the operator does: write the status, create and record the Job, delete Jobs."""
        status, found = d.status, dict(self.jobs)
        if d.create_attempt is not None:
            name = f"t-{d.create_attempt}"
            status = record_attempt(status, number=d.create_attempt, job=name, now=self.now, gen=1)
            found[d.create_attempt] = JobObservation(name=name, attempt=d.create_attempt, created=self.now)
        found = {n: j for n, j in found.items() if j.name not in d.delete_jobs}
        task = make_task(status=status.to_wire(), **self.task.spec.to_wire())
        return replace(self, task=task, jobs=found, decisions=(*self.decisions, d))

    def step(self) -> Run:
        return self.apply(decide(self.observed()))


@st.composite
def runs(draw: st.DrawFn, max_steps: int = 12) -> Run:
    """A Task driven through up to `max_steps` reconciles of a changing cluster."""
    spec: dict[str, Any] = draw(task_specs)
    r = Run(task=make_task(**spec), jobs={}, now=NOW).step()
    for _ in range(draw(st.integers(0, max_steps))):
        r = replace(r, now=r.now + draw(time_steps))
        if not r.task.spec.cancel and draw(st.integers(0, 15)) == 0:
            r = r.with_spec(cancel=True)
        current = max(r.jobs, default=0)
        change = draw(st.sampled_from(["same", "progress", "progress", "progress", "vanish"]))
        if current and change == "progress":
            r = replace(r, jobs={**r.jobs, current: draw(jobs_of(current, r.jobs[current].created or r.now))})
        elif current and change == "vanish":  # deleted behind the operator's back: PodLost
            r = replace(r, jobs={n: j for n, j in r.jobs.items() if n != current})
        r = r.step()
    return r


@st.composite
def final_runs(draw: st.DrawFn) -> Run:
    """A run that reached a final phase: left to run on, and cancelled if it still has not."""
    r = draw(runs())
    for _ in range(20):
        if is_final(r.phase):
            return r
        current = max(r.jobs, default=0)
        if current:
            r = replace(r, jobs={**r.jobs, current: draw(jobs_of(current, r.jobs[current].created or r.now))})
        r = replace(r, now=r.now + draw(time_steps)).step()
    return r if is_final(r.phase) else r.with_spec(cancel=True).step()


@st.composite
def later_observations(draw: st.DrawFn, r: Run) -> list[Run]:
    """What a finished run may see afterwards: any Job, later times, a cancel request."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        at = r.now + draw(time_steps)
        attempt = draw(st.integers(1, 5))
        seen = draw(st.one_of(st.just({}), jobs_of(attempt, at).map(lambda j: {j.attempt: j})))
        later = replace(r, now=at, jobs=seen)
        out.append(later.with_spec(cancel=True) if draw(st.booleans()) else later)
    return out
