"""decide(): from observations to the next status, the Job to create and the events to post."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kubetask.conditions import get_condition
from kubetask.models import Phase, Task, TaskTemplateSpec
from kubetask.observe import ContainerExit, outcome
from kubetask.reconcile import Decision, decide, format_duration, record_attempt
from tests.unit.builders import NOW, exited, job, make_task, make_template, observed, pod


def started(task_status: dict[str, Any] | None = None) -> Task:
    """A task whose attempt 1 Job has been created and recorded."""
    t = make_task()
    st = record_attempt(t.status or decide(observed(t)).status, number=1, job="t-1", now=NOW, gen=1)
    return make_task(status=st.to_wire() | (task_status or {}))


def test_new_valid_task_asks_for_attempt_1() -> None:
    d = decide(observed(make_task(params={"a": 1}, templateRef={"name": "tpl"})))
    assert d.create_attempt == 1 and d.resolved is not None and d.resolved.image == "img:1"
    assert d.status.phase == Phase.PENDING


def test_recorded_attempt_is_not_created_again() -> None:
    d = decide(observed(started(), job()))
    assert d.create_attempt is None and d.status.phase == Phase.PENDING


def test_job_found_but_not_recorded_is_adopted_not_recreated() -> None:
    d = decide(observed(make_task(), job(pod("Running", running_since=NOW))))
    assert d.create_attempt is None
    assert [a.job_name for a in d.status.attempts] == ["t-1"] and d.status.phase == Phase.RUNNING


def test_invalid_params_fail_with_pointer_and_no_job() -> None:
    tpl = make_template(paramSchema={"type": "object", "properties": {"n": {"type": "integer"}}})
    d = decide(observed(make_task(templateRef={"name": "tpl"}, params={"n": "x"}), template=tpl))
    assert d.create_attempt is None
    assert (d.status.phase, d.status.reason) == (Phase.FAILED, "InvalidParams")
    assert "/n: 'x' is not of type 'integer'" in (d.status.message or "")
    assert [e.reason for e in d.events] == ["InvalidParams"]


def test_missing_template_waits_and_warns_once() -> None:
    t = make_task(templateRef={"name": "nope"})
    first = decide(observed(t, missing=True))
    assert (first.status.phase, first.status.reason) == (Phase.PENDING, "TemplateNotFound")
    assert [e.type for e in first.events] == ["Warning"] and first.create_attempt is None
    again = decide(observed(make_task(templateRef={"name": "nope"}, status=first.status.to_wire()), missing=True))
    assert again.events == () and again.status == first.status


def test_inline_image_needs_no_template() -> None:
    d = decide(observed(make_task(image="busybox:1", command=["true"]), template=None))
    assert d.create_attempt == 1 and d.resolved is not None and d.resolved.command == ["true"]


def test_neither_template_nor_image_is_invalid_spec() -> None:
    d = decide(observed(make_task(params={"a": 1}), template=None))
    assert (d.status.phase, d.status.reason) == (Phase.FAILED, "InvalidSpec")


def test_running_container_moves_to_running_with_one_event() -> None:
    d = decide(observed(started(), job(pod("Running", running_since=NOW))))
    assert d.status.phase == Phase.RUNNING and d.status.start_time == NOW
    assert [e.reason for e in d.events] == ["Started"]
    again = decide(observed(make_task(status=d.status.to_wire()), job(pod("Running", running_since=NOW))))
    assert again.events == () and again.status == d.status


@pytest.mark.parametrize(
    ("pod_obs", "phase", "reason", "exit_code"),
    [
        pytest.param(exited(0, '{"ok": true}'), Phase.SUCCEEDED, "Completed", 0, id="success"),
        pytest.param(exited(3, "boom"), Phase.FAILED, "NonZeroExit", 3, id="exit 3"),
        pytest.param(exited(137, None, "OOMKilled"), Phase.FAILED, "OOMKilled", 137, id="oom"),
        pytest.param(
            pod("Pending", waiting_reason="ErrImagePull", waiting_message="not found"),
            Phase.FAILED,
            "ImagePullFailed",
            None,
            id="image pull",
        ),
        pytest.param(
            pod("Pending", waiting_reason="CreateContainerConfigError", waiting_message="secret x"),
            Phase.FAILED,
            "ContainerCreateFailed",
            None,
            id="create config",
        ),
        pytest.param(
            pod("Failed", reason="Evicted", message="low on memory"),
            Phase.FAILED,
            "Evicted",
            None,
            id="evicted",
        ),
    ],
)
def test_container_outcomes(pod_obs, phase, reason, exit_code) -> None:
    d = decide(observed(started(), job(pod_obs)))
    assert (d.status.phase, d.status.reason) == (phase, reason)
    assert d.status.attempts[0].exit_code == exit_code
    assert d.status.completion_time is not None


def test_success_parses_result_and_sets_duration() -> None:
    d = decide(observed(started({"startTime": NOW.isoformat()}), job(exited(0, '{"sum": 3}'))))
    assert d.status.result == {"sum": 3} and d.status.duration == "5s"


def test_result_breaking_schema_is_invalid_result() -> None:
    j = job(exited(0, '{"sum": "three"}'), result_schema={"properties": {"sum": {"type": "integer"}}})
    d = decide(observed(started(), j))
    assert (d.status.phase, d.status.reason) == (Phase.FAILED, "InvalidResult")
    assert "/sum" in (d.status.message or "") and d.status.result is None


def test_non_json_result_with_schema_is_invalid_result() -> None:
    d = decide(observed(started(), job(exited(0, "not json"), result_schema={"type": "object"})))
    assert d.status.reason == "InvalidResult" and "not JSON" in (d.status.message or "")


def test_plain_text_output_without_schema_is_kept_as_text() -> None:
    d = decide(observed(started(), job(exited(0, "done\n"))))
    assert (d.status.phase, d.status.result) == (Phase.SUCCEEDED, "done")


def test_deadline_exceeded_from_the_job_wins() -> None:
    j = job(pod("Running", running_since=NOW), failed_reason="DeadlineExceeded", timeout_seconds=30)
    d = decide(observed(started(), j))
    assert (d.status.phase, d.status.reason) == (Phase.FAILED, "DeadlineExceeded")
    assert "timeout of 30s" in (d.status.message or "")


def test_image_pull_failure_stops_the_job() -> None:
    d = decide(observed(started(), job(pod(waiting_reason="ImagePullBackOff"))))
    assert d.delete_jobs == ("t-1",)


def test_recorded_job_that_vanished_is_pod_lost() -> None:
    d = decide(observed(started()))
    assert (d.status.phase, d.status.reason) == (Phase.FAILED, "PodLost")
    assert d.status.attempts[0].reason == "PodLost"


def test_final_status_is_left_alone() -> None:
    done = decide(observed(started(), job(exited(0, "{}")))).status
    later = decide(observed(make_task(status=done.to_wire()), job(exited(1, "x")), now=NOW + timedelta(hours=1)))
    assert later.status == done and later.events == () and later.create_attempt is None


def test_condition_transition_time_moves_only_on_flip() -> None:
    run1 = decide(observed(started(), job(pod("Running", running_since=NOW)))).status
    run2 = decide(
        observed(
            make_task(status=run1.to_wire()),
            job(pod("Running", running_since=NOW)),
            now=NOW + timedelta(seconds=30),
        )
    ).status
    assert run2.conditions == run1.conditions


def test_terminated_state_overrides_running_flag() -> None:
    p = pod("Running", running_since=NOW, terminated=ContainerExit(exit_code=0, message="{}"))
    assert decide(observed(started(), job(p))).status.phase == Phase.SUCCEEDED


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59, "59s"), (61, "1m1s"), (3700, "1h1m"), (90000, "1d1h")])
def test_durations_read_like_kubectl(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_pending_pod_is_named_once_it_reports_a_container() -> None:
    """The operator does not act on a pod's creation (relevance.py): a decision must not depend on
    whether some other event happened to show the pod before it reported anything."""
    assert outcome(job(pod("Pending")), now=NOW).pod_name is None
    creating = pod("Pending", waiting_reason="ContainerCreating")
    assert outcome(job(creating), now=NOW).pod_name == creating.name


# -- spec.runAt: Scheduled until then ------------------------------------------------------------

LATER = NOW + timedelta(minutes=10)


def _then(d: Decision, **spec: Any) -> Task:
    """The Task once `d`'s status is written."""
    return make_task(status=d.status.to_wire(), **spec)


def test_a_future_run_at_is_scheduled_without_a_job_and_wakes_at_run_at() -> None:
    spec: dict[str, Any] = {"templateRef": {"name": "tpl"}, "params": {}, "runAt": LATER.isoformat()}
    d = decide(observed(make_task(**spec)))
    assert (d.status.phase, d.status.reason, d.create_attempt) == (Phase.SCHEDULED, "Scheduled", None)
    assert d.requeue_at == LATER and d.status.attempts == [] and d.status.policy is None
    assert [(e.type, e.reason) for e in d.events] == [("Normal", "Scheduled")]
    accepted = get_condition(d.status.conditions, "Accepted")
    assert accepted is not None and (accepted.status, accepted.reason) == ("Unknown", "Scheduled")
    again = decide(observed(_then(d, **spec), now=LATER - timedelta(seconds=1)))
    assert (again.status, again.events, again.create_attempt, again.requeue_at) == (d.status, (), None, LATER)


@pytest.mark.parametrize(
    ("now", "created"),
    [
        pytest.param(LATER, True, id="at runAt: the wake-up"),
        pytest.param(LATER + timedelta(hours=1), True, id="after runAt: an operator that was down"),
        pytest.param(NOW, False, id="a runAt in the past: at once"),
    ],
)
def test_the_first_attempt_starts_once_run_at_is_reached(now: datetime, created: bool) -> None:
    run_at = LATER if created else NOW - timedelta(days=1)
    spec: dict[str, Any] = {"templateRef": {"name": "tpl"}, "params": {}, "runAt": run_at.isoformat()}
    t = _then(decide(observed(make_task(**spec))), **spec) if created else make_task(**spec)
    d = decide(observed(t, now=now))
    assert (d.create_attempt, d.status.phase, d.status.reason) == (1, Phase.PENDING, "JobCreated")
    accepted = get_condition(d.status.conditions, "Accepted")
    assert accepted is not None and accepted.status == "True"


@pytest.mark.parametrize(
    ("spec", "template", "reason"),
    [
        pytest.param({"params": {}}, None, "InvalidSpec", id="neither templateRef nor image"),
        pytest.param(
            {"templateRef": {"name": "tpl"}, "params": {"n": "x"}},
            make_template(paramSchema={"properties": {"n": {"type": "integer"}}}),
            "InvalidParams",
            id="params against the paramSchema",
        ),
    ],
)
def test_what_would_be_refused_at_run_at_is_refused_at_once(
    spec: dict[str, Any], template: TaskTemplateSpec | None, reason: str
) -> None:
    d = decide(observed(make_task(**spec, runAt=LATER.isoformat()), template=template))
    assert (d.status.phase, d.status.reason, d.create_attempt, d.requeue_at) == (Phase.FAILED, reason, None, None)
    assert [e.reason for e in d.events] == [reason]


def test_a_missing_template_warns_at_once_and_is_waited_for_past_run_at() -> None:
    spec: dict[str, Any] = {"templateRef": {"name": "nope"}, "runAt": LATER.isoformat()}
    first = decide(observed(make_task(**spec), missing=True))
    assert (first.status.phase, first.status.reason, first.requeue_at) == (Phase.SCHEDULED, "TemplateNotFound", LATER)
    assert [(e.type, e.reason) for e in first.events] == [("Warning", "TemplateNotFound")]
    assert "not before its runAt" in (first.status.message or "")
    found = decide(observed(_then(first, **spec), now=NOW + timedelta(minutes=1)))
    assert (found.status.phase, found.status.reason, found.create_attempt) == (Phase.SCHEDULED, "Scheduled", None)
    assert [e.reason for e in found.events] == ["Scheduled"]
    late = decide(observed(_then(first, **spec), now=LATER, missing=True))
    assert (late.status.phase, late.status.reason, late.events) == (Phase.PENDING, "TemplateNotFound", ())
    assert late.create_attempt is None and "runAt" not in (late.status.message or "")


def test_params_are_checked_again_at_run_at_against_the_template_then() -> None:
    spec: dict[str, Any] = {"templateRef": {"name": "tpl"}, "params": {"n": "x"}, "runAt": LATER.isoformat()}
    waiting = decide(observed(make_task(**spec)))
    assert waiting.status.phase == Phase.SCHEDULED
    strict = make_template(paramSchema={"properties": {"n": {"type": "integer"}}})
    d = decide(observed(_then(waiting, **spec), template=strict, now=LATER))
    assert (d.status.phase, d.status.reason, d.create_attempt) == (Phase.FAILED, "InvalidParams", None)


def test_a_run_at_inside_a_second_wakes_at_the_next_whole_second() -> None:
    """The operator's "now" has whole seconds: waking inside runAt's second would find it not due."""
    run_at = LATER + timedelta(milliseconds=250)
    spec: dict[str, Any] = {"templateRef": {"name": "tpl"}, "params": {}, "runAt": run_at.isoformat()}
    d = decide(observed(make_task(**spec), now=LATER))
    assert (d.status.phase, d.requeue_at) == (Phase.SCHEDULED, LATER + timedelta(seconds=1))
    assert decide(observed(_then(d, **spec), now=LATER + timedelta(seconds=1))).create_attempt == 1


def test_a_run_at_without_an_offset_is_not_a_valid_spec() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        make_task(templateRef={"name": "tpl"}, runAt="2026-01-02T03:04:05")


def test_a_run_at_moved_while_scheduled_moves_the_start_and_says_so() -> None:
    spec: dict[str, Any] = {"templateRef": {"name": "tpl"}, "params": {}, "runAt": LATER.isoformat()}
    first = decide(observed(make_task(**spec)))
    moved = {**spec, "runAt": (LATER + timedelta(hours=1)).isoformat()}
    d = decide(observed(_then(first, **moved), now=LATER))  # the old wake-up still comes
    assert (d.status.phase, d.create_attempt, d.requeue_at) == (Phase.SCHEDULED, None, LATER + timedelta(hours=1))
    assert [e.reason for e in d.events] == ["Scheduled"]
