"""One pass of the schedule controller (`kubetask.scheduling.decide`): what it creates, cancels and
deletes, the status it writes and the floor (`schedulingSince`) below which nothing is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kubetask import conditions as c
from kubetask.labels import ANNOTATION_SCHEDULED_TIME, LABEL_SCHEDULE
from kubetask.models import Phase, TaskSchedule, TaskScheduleSpec, TaskScheduleStatus, TaskTemplateSpec
from kubetask.scheduling import (
    READY,
    REASON_RUN_MISSED,
    REASON_RUN_SKIPPED,
    REASON_SCHEDULING,
    REASON_SUSPENDED,
    RETENTION_WAIT,
    Decision,
    Observed,
    Run,
    decide,
    owner_schedule,
    run_instant,
    spec_problems,
)

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
TEMPLATE = TaskTemplateSpec.model_validate(
    {"image": "busybox", "paramSchema": {"type": "object", "properties": {"n": {"type": "integer"}}}}
)


def spec(**fields: Any) -> TaskScheduleSpec:
    base: dict[str, Any] = {"schedule": "*/5 * * * *", "task": {"templateRef": {"name": "t"}, "params": {"n": 1}}}
    return TaskScheduleSpec.model_validate({**base, **fields})


def observed(
    *,
    now: datetime,
    spec_: TaskScheduleSpec | None = None,
    status: TaskScheduleStatus | None = None,
    runs: tuple[Run, ...] = (),
    **fields: Any,
) -> Observed:
    args: dict[str, Any] = {
        "namespace": "ns",
        "name": "every5",
        "uid": "uid-1",
        "generation": 1,
        "created": T0,
        "spec": spec_ if spec_ is not None else spec(),
        "status": status or TaskScheduleStatus(),
        "now": now,
        "up_since": T0,
        "template": TEMPLATE,
        "runs": runs,
    }
    return Observed(**{**args, **fields})


def ready(d: Decision) -> tuple[str, str]:
    cond = c.get_condition(d.status.conditions, READY)
    assert cond is not None
    return cond.status, cond.reason


def run(minute: int, phase: Phase | None = Phase.RUNNING, **fields: Any) -> Run:
    instant = T0 + timedelta(minutes=minute)
    return Run(**{"name": f"every5-{instant:%Y%m%d%H%M%S}", "instant": instant, "phase": phase, **fields})


def test_the_first_pass_counts_from_creation_and_creates_the_due_instant_as_an_owned_labelled_task() -> None:
    d = decide(observed(now=T0 + timedelta(minutes=5, seconds=1)))
    (body,) = d.create
    meta = body["metadata"]
    assert meta["name"] == "every5-20261201120500"
    assert meta["labels"][LABEL_SCHEDULE] == "every5"
    assert meta["annotations"][ANNOTATION_SCHEDULED_TIME] == "2026-12-01T12:05:00Z"
    assert meta["ownerReferences"][0] == {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "TaskSchedule",
        "name": "every5",
        "uid": "uid-1",
        "controller": True,
    }
    assert body["spec"]["templateRef"] == {"name": "t"} and body["spec"]["params"] == {"n": 1}
    assert run_instant(body) == T0 + timedelta(minutes=5) and owner_schedule(body) == "every5"
    s = d.status
    assert s.last_schedule_time == T0 + timedelta(minutes=5)
    assert [r.name for r in s.active] == [meta["name"]] and s.active_count == 1
    assert s.next_run_times[:2] == [T0 + timedelta(minutes=10), T0 + timedelta(minutes=15)]
    assert len(s.next_run_times) == 5
    assert s.scheduling_since == T0 and s.observed_schedule == "*/5 * * * * UTC"
    assert ready(d) == ("True", REASON_SCHEDULING)
    assert d.wake_at == T0 + timedelta(minutes=10)


def test_an_instant_whose_task_exists_is_neither_created_again_nor_missed() -> None:
    d = decide(observed(now=T0 + timedelta(minutes=5, seconds=1), runs=(run(5),)))
    assert d.create == () and d.status.missed_runs == 0
    assert d.status.last_schedule_time == T0 + timedelta(minutes=5)
    assert d.status.active_count == 1


def test_a_pass_right_after_the_last_changes_nothing() -> None:
    first = decide(observed(now=T0 + timedelta(minutes=5, seconds=1)))
    again = decide(observed(now=T0 + timedelta(minutes=5, seconds=2), status=first.status, runs=(run(5, None),)))
    assert again.create == () and again.events == ()
    assert again.status == first.status


@pytest.mark.parametrize(
    ("fields", "reason", "in_message"),
    [
        ({"spec": None, "invalid": "spec.schedule: never fires"}, c.REASON_INVALID_SPEC, "never fires"),
        ({"template": None, "template_missing": True}, c.REASON_TEMPLATE_NOT_FOUND, "'t' not found"),
        (
            {"spec_": spec(task={"templateRef": {"name": "t"}, "params": {"n": "x"}})},
            c.REASON_INVALID_SPEC,
            "spec.task.params/n",
        ),
    ],
    ids=["invalid-spec", "template-missing", "params-break-the-schema"],
)
def test_a_schedule_that_cannot_run_creates_nothing_and_says_why(
    fields: dict[str, Any], reason: str, in_message: str
) -> None:
    d = decide(observed(now=T0 + timedelta(minutes=5, seconds=1), **fields))
    assert d.create == () and d.wake_at is None and d.status.next_run_times == []
    assert ready(d) == ("False", reason)
    cond = c.get_condition(d.status.conditions, READY)
    assert cond is not None and in_message in cond.message
    (event,) = d.events
    assert event.reason == reason and in_message in event.message


def test_a_template_that_appears_later_starts_the_schedule_from_then_without_reaching_back() -> None:
    waiting = decide(observed(now=T0 + timedelta(minutes=1), template=None, template_missing=True))
    later = T0 + timedelta(minutes=12)
    d = decide(observed(now=later, status=waiting.status))
    assert d.create == () and d.status.missed_runs == 0  # 12:05 and 12:10 were never possible
    assert d.status.scheduling_since == later and ready(d) == ("True", REASON_SCHEDULING)
    assert d.status.next_run_times[0] == T0 + timedelta(minutes=15)


def test_suspended_misses_nothing_drops_the_queued_instant_and_resuming_runs_nothing_from_the_pause() -> None:
    running = decide(observed(now=T0 + timedelta(minutes=5, seconds=1))).status
    queued = running.model_copy(update={"queued": T0 + timedelta(minutes=10)})
    paused = decide(
        observed(now=T0 + timedelta(minutes=11), spec_=spec(suspend=True, suspendReason="db move"), status=queued)
    )
    assert paused.create == () and paused.wake_at is None and paused.status.queued is None
    assert paused.status.skipped_runs == 1 and paused.status.missed_runs == 0
    cond = c.get_condition(paused.status.conditions, READY)
    assert cond is not None and (cond.status, cond.reason, cond.message) == ("False", REASON_SUSPENDED, "db move")
    resumed_at = T0 + timedelta(minutes=42)
    resumed = decide(observed(now=resumed_at, status=paused.status))
    assert resumed.create == () and resumed.status.missed_runs == 0
    assert resumed.status.scheduling_since == resumed_at
    assert resumed.status.next_run_times[0] == T0 + timedelta(minutes=45)


def test_a_changed_schedule_does_not_reach_back_to_instants_of_the_new_one() -> None:
    hourly = decide(observed(now=T0 + timedelta(minutes=1), spec_=spec(schedule="0 * * * *"))).status
    changed_at = T0 + timedelta(minutes=22)
    d = decide(observed(now=changed_at, status=hourly))  # now */5: 12:05 … 12:20 lie before the change
    assert d.create == () and d.status.missed_runs == 0
    assert d.status.scheduling_since == changed_at and d.status.observed_schedule == "*/5 * * * * UTC"


def test_forbid_skips_and_counts_an_instant_while_a_run_is_active() -> None:
    first = decide(observed(now=T0 + timedelta(minutes=5, seconds=1), spec_=spec(concurrencyPolicy="Forbid")))
    d = decide(
        observed(
            now=T0 + timedelta(minutes=10, seconds=1),
            spec_=spec(concurrencyPolicy="Forbid"),
            status=first.status,
            runs=(run(5),),
        )
    )
    assert d.create == ()
    assert (d.status.skipped_runs, d.status.last_skipped_time) == (1, T0 + timedelta(minutes=10))
    assert any(e.reason == REASON_RUN_SKIPPED and "Forbid" in e.message for e in d.events)


def test_a_manual_run_at_an_instant_counts_as_active_but_does_not_stand_for_that_instant() -> None:
    manual = run(5, name="every5-20261201120500-manual", manual=True)
    allow = decide(observed(now=T0 + timedelta(minutes=5, seconds=1), runs=(manual,)))
    assert [b["metadata"]["name"] for b in allow.create] == ["every5-20261201120500"]
    assert allow.status.active_count == 2
    forbid = decide(
        observed(now=T0 + timedelta(minutes=5, seconds=1), spec_=spec(concurrencyPolicy="Forbid"), runs=(manual,))
    )
    assert forbid.create == () and forbid.status.skipped_runs == 1


def test_replace_cancels_the_active_run_and_starts_the_new_one() -> None:
    first = decide(observed(now=T0 + timedelta(minutes=5, seconds=1), spec_=spec(concurrencyPolicy="Replace")))
    d = decide(
        observed(
            now=T0 + timedelta(minutes=10, seconds=1),
            spec_=spec(concurrencyPolicy="Replace"),
            status=first.status,
            runs=(run(5),),
        )
    )
    assert d.cancel == ("every5-20261201120500",)
    assert [b["metadata"]["name"] for b in d.create] == ["every5-20261201121000"]


def test_queue_keeps_one_instant_in_status_and_starts_it_when_the_active_run_ended() -> None:
    q = spec(concurrencyPolicy="Queue")
    first = decide(observed(now=T0 + timedelta(minutes=5, seconds=1), spec_=q))
    held = decide(observed(now=T0 + timedelta(minutes=10, seconds=1), spec_=q, status=first.status, runs=(run(5),)))
    assert held.create == () and held.status.queued == T0 + timedelta(minutes=10)
    ended = decide(
        observed(
            now=T0 + timedelta(minutes=12),
            spec_=q,
            status=held.status,
            runs=(run(5, Phase.SUCCEEDED, completed=T0 + timedelta(minutes=11)),),
        )
    )
    assert [b["metadata"]["name"] for b in ended.create] == ["every5-20261201121000"]
    assert ended.status.queued is None
    assert ended.status.last_successful_time == T0 + timedelta(minutes=11)


def test_instants_past_the_starting_deadline_are_missed_counted_and_reported() -> None:
    late = spec(startingDeadlineSeconds=30, missedRunPolicy="Skip")
    d = decide(observed(now=T0 + timedelta(minutes=16), spec_=late, up_since=T0 + timedelta(minutes=16)))
    assert d.create == ()
    assert (d.status.missed_runs, d.status.last_missed_time) == (3, T0 + timedelta(minutes=15))
    assert any(e.reason == REASON_RUN_MISSED for e in d.events)


def test_history_limits_delete_only_mirrored_runs_at_or_before_the_mark_and_wait_for_the_mirror() -> None:
    limits = spec(successfulHistoryLimit=1, failedHistoryLimit=0)
    done = T0 + timedelta(minutes=21)
    runs = (
        run(5, Phase.SUCCEEDED, completed=done),
        run(10, Phase.SUCCEEDED, completed=done, mirrored=False),
        run(15, Phase.SUCCEEDED, completed=done),
        run(20, Phase.FAILED, completed=done),
    )
    status = TaskScheduleStatus(last_schedule_time=T0 + timedelta(minutes=20))
    d = decide(observed(now=T0 + timedelta(minutes=22), spec_=limits, status=status, runs=runs))
    assert d.delete == ("every5-20261201120500", "every5-20261201122000")
    assert d.wake_at == T0 + timedelta(minutes=22) + RETENTION_WAIT  # 12:10 waits for the mirror
    newer = (run(25, Phase.FAILED, completed=done),)  # after the mark: never deleted, whatever the limit
    kept = decide(observed(now=T0 + timedelta(minutes=22), spec_=limits, status=status, runs=newer))
    assert kept.delete == ()


@pytest.mark.parametrize(
    ("spec_", "field"),
    [
        ({"schedule": "0 0 31 2 *"}, "spec.schedule: '0 0 31 2 *' never fires"),
        ({"timeZone": "Mars/Olympus"}, "spec.timeZone: unknown time zone 'Mars/Olympus'"),
    ],
    ids=["never-fires", "unknown-zone"],
)
def test_a_spec_the_model_refuses_is_named_field_by_field(spec_: dict[str, Any], field: str) -> None:
    body = {"spec": {"schedule": "*/5 * * * *", "task": {"templateRef": {"name": "t"}}, **spec_}}
    with pytest.raises(ValidationError) as e:
        TaskSchedule.model_validate(body)
    message = spec_problems(e.value)
    assert message.startswith(field), message
    d = decide(observed(now=T0, spec=None, invalid=message))
    cond = c.get_condition(d.status.conditions, READY)
    assert cond is not None and cond.reason == c.REASON_INVALID_SPEC and field in cond.message
