"""The TaskSchedule model: the schedule's cron and zone are checked by the schedule parser, all at once."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kubetask.models import TaskSchedule, TaskScheduleSpec
from kubetask.schedules import DEFAULT_MAX_MISSED_RUNS


def spec(**fields: Any) -> dict[str, Any]:
    return {"schedule": "*/5 * * * *", "task": {"templateRef": {"name": "tpl"}}, **fields}


def _errors(body: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as e:
        TaskScheduleSpec.model_validate(body)
    return {err["loc"]: err["msg"] for err in e.value.errors()}


def test_defaults_are_the_schedule_modules() -> None:
    s = TaskScheduleSpec.model_validate(spec())
    assert (s.concurrency_policy, s.missed_run_policy, s.max_missed_runs) == (
        "Allow",
        "RunLatest",
        DEFAULT_MAX_MISSED_RUNS,
    )
    assert (s.time_zone, s.suspend, s.jitter_seconds, s.starting_deadline_seconds) == (None, False, 0, None)
    assert (s.successful_history_limit, s.failed_history_limit) == (3, 1)


@pytest.mark.parametrize(
    ("fields", "loc", "says"),
    [
        pytest.param({"schedule": "0 0 31 2 *"}, ("schedule",), "never fires", id="impossible"),
        pytest.param({"schedule": "61 * * * *"}, ("schedule",), "not a valid cron expression", id="out-of-range"),
        pytest.param({"schedule": "@reboot"}, ("schedule",), "unknown macro", id="macro"),
        pytest.param({"timeZone": "Mars/Olympus"}, ("timeZone",), "unknown time zone", id="zone"),
        pytest.param({"concurrencyPolicy": "Sometimes"}, ("concurrencyPolicy",), "Allow", id="concurrency"),
        pytest.param({"missedRunPolicy": "RunSome"}, ("missedRunPolicy",), "RunLatest", id="missed"),
        pytest.param({"maxMissedRuns": 101}, ("maxMissedRuns",), "100", id="cap"),
        pytest.param({"jitterSeconds": -1}, ("jitterSeconds",), "0", id="jitter"),
        pytest.param({"task": {}}, ("task", "templateRef"), "required", id="template"),
    ],
)
def test_a_bad_field_is_named(fields: dict[str, Any], loc: tuple[str, ...], says: str) -> None:
    errors = _errors(spec(**fields))
    assert list(errors) == [loc]
    assert says in errors[loc]


def test_every_bad_field_is_reported_at_once() -> None:
    errors = _errors(spec(schedule="0 0 30 2 *", timeZone="Nowhere/Else", concurrencyPolicy="Never"))
    assert set(errors) == {("schedule",), ("timeZone",), ("concurrencyPolicy",)}


def test_six_field_and_hashed_schedules_are_valid() -> None:
    for schedule in ("*/5 * * * * *", "H H(1-3) * * *", "@weekly", "H/15 * * * *"):
        assert TaskScheduleSpec.model_validate(spec(schedule=schedule)).schedule == schedule


def test_a_schedule_round_trips_through_the_wire_form() -> None:
    body = {"metadata": {"name": "s"}, "spec": spec(timeZone="America/New_York", suspend=True)}
    ts = TaskSchedule.model_validate(body)
    assert TaskSchedule.model_validate(ts.to_wire()) == ts
    assert ts.to_wire()["spec"]["timeZone"] == "America/New_York"
