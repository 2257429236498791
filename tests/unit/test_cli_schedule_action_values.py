"""`kubetask schedules backfill`: the values --from/--to take, and one line per instant of the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubetask.cli._errors import UsageProblem
from kubetask.cli.schedule_actions import backfill_rows, instant_from

NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("-6h", NOW - timedelta(hours=6)),
        ("-1d12h", NOW - timedelta(days=1, hours=12)),
        ("+10m", NOW + timedelta(minutes=10)),  # the API refuses a future `to`, naming it
        ("2026-03-01T09:00:00Z", datetime(2026, 3, 1, 9, tzinfo=UTC)),
        ("2026-03-01T10:00:00+01:00", datetime(2026, 3, 1, 9, tzinfo=UTC)),
    ],
)
def test_a_bound_is_a_time_with_an_offset_now_or_a_duration_before_now(text: str, expected: datetime) -> None:
    assert instant_from(text, now=NOW, flag="--from") == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-03-01T09:00:00", "-6 hours", "-"])
def test_a_bound_of_another_form_is_a_usage_problem_naming_the_flag(text: str) -> None:
    with pytest.raises(UsageProblem, match="^--to "):
        instant_from(text, now=NOW, flag="--to")


def test_every_instant_of_a_backfill_answer_is_one_row_oldest_first() -> None:
    def run(hour: int) -> dict[str, str]:
        return {"name": f"s-202603100{hour}0000", "scheduledTime": f"2026-03-10T0{hour}:00:00Z"}

    doc = {"created": [run(3)], "skippedExisting": [run(1)], "skippedHistory": [run(2)], "notStarted": [run(4)]}
    rows = backfill_rows(doc)
    assert [r["name"] for r in rows] == [run(h)["name"] for h in (1, 2, 3, 4)]
    assert [r["outcome"].split(":")[0] for r in rows] == ["skipped", "skipped", "created", "not started"]
