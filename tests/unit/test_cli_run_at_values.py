"""`kubetask submit --run-at`: an RFC 3339 time with an offset, or +DURATION from now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kubetask.cli._errors import UsageProblem
from kubetask.cli._params import run_at_from
from tests.unit.builders import NOW


@pytest.mark.parametrize(
    ("text", "when"),
    [
        pytest.param("+10m", NOW + timedelta(minutes=10), id="relative"),
        pytest.param("+1h30m", NOW + timedelta(hours=1, minutes=30), id="relative, two units"),
        pytest.param("2026-03-01T09:00:00Z", datetime(2026, 3, 1, 9, tzinfo=UTC), id="RFC 3339, Z"),
        pytest.param(
            "2026-03-01T10:00:00.5+01:00",
            datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=timezone(timedelta(hours=1))),
            id="RFC 3339, offset and fraction",
        ),
    ],
)
def test_run_at_values_are_times_or_offsets_from_now(text: str, when: datetime) -> None:
    assert run_at_from(text, now=NOW) == when


@pytest.mark.parametrize("text", ["2026-03-01T09:00:00", "tomorrow", "+soon", "10m", ""])
def test_a_run_at_without_an_offset_or_unreadable_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageProblem, match="--run-at"):
        run_at_from(text, now=NOW)
